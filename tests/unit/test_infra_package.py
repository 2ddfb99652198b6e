"""infra/package.py: the Lambda zip is reproducible and holds exactly the handler's package."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from cdrcap.cli import main
from infra.package import PackagingError, build_lambda_zip, sha256_of, zip_architecture

pytestmark = pytest.mark.unit


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    first = build_lambda_zip(tmp_path / "a", include_dependencies=False)
    second = build_lambda_zip(tmp_path / "b", include_dependencies=False)
    assert first.read_bytes() == second.read_bytes()


def test_entries_are_sorted_with_fixed_time_and_mode(tmp_path: Path) -> None:
    archive = zipfile.ZipFile(build_lambda_zip(tmp_path, include_dependencies=False))
    infos = archive.infolist()
    assert [info.filename for info in infos] == sorted(info.filename for info in infos)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}


def test_zip_holds_the_pipeline_package_without_bytecode(tmp_path: Path) -> None:
    names = zipfile.ZipFile(build_lambda_zip(tmp_path, include_dependencies=False)).namelist()
    assert "pipeline/__init__.py" in names and "pipeline/constants.py" in names
    assert not [name for name in names if name.endswith(".pyc") or "__pycache__" in name]
    assert all(name.startswith("pipeline/") for name in names)


def test_bytecode_next_to_the_sources_does_not_change_the_zip(tmp_path: Path) -> None:
    # Given a source tree, When bytecode appears beside it (an import ran), Then the zip is the same
    source = tmp_path / "src"
    (source / "pipeline" / "__pycache__").mkdir(parents=True)
    (source / "pipeline" / "__init__.py").write_text('"""x"""\n')
    before = build_lambda_zip(tmp_path / "a", include_dependencies=False, source_root=source).read_bytes()
    (source / "pipeline" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\x00")
    after = build_lambda_zip(tmp_path / "b", include_dependencies=False, source_root=source).read_bytes()
    assert before == after


def test_unknown_architecture_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="arm64, x86_64"):
        build_lambda_zip(tmp_path, include_dependencies=False, architecture="ppc64")


def test_package_command_prints_sha256_and_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["package", "--output-dir", str(tmp_path), "--no-dependencies"]) == 0
    digest, path = capsys.readouterr().out.split()
    assert digest == sha256_of(Path(path)) and Path(path).parent == tmp_path


def _zip_with(path: Path, *names: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, b"")
    return path


@pytest.mark.parametrize(
    ("so_name", "architecture"),
    [
        ("orjson.cpython-312-aarch64-linux-gnu.so", "arm64"),
        ("orjson.cpython-312-x86_64-linux-gnu.so", "x86_64"),
    ],
)
def test_zip_architecture_is_read_from_native_code(tmp_path: Path, so_name: str, architecture: str) -> None:
    assert (
        zip_architecture(_zip_with(tmp_path / "z.zip", "pipeline/__init__.py", f"orjson/{so_name}"))
        == architecture
    )


def test_pure_python_zip_has_no_architecture(tmp_path: Path) -> None:
    assert zip_architecture(_zip_with(tmp_path / "z.zip", "pipeline/__init__.py")) is None
