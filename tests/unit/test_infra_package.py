"""infra/package.py: the Lambda zip is reproducible and holds exactly the handler's package."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from cdrcap.cli import main
from infra.package import (
    PackagingError,
    build_lambda_zip,
    lambda_requirements,
    pinned_requirements,
    sha256_of,
    zip_architecture,
)
from infra.package_report import report, top_level_modules, zip_python_version


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


def test_package_command_prints_sha256_path_and_the_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["package", "--output-dir", str(tmp_path), "--no-dependencies", "--no-cold-start"]) == 0
    first, *rest = capsys.readouterr().out.splitlines()
    digest, path = first.split()
    assert digest == sha256_of(Path(path)) and Path(path).parent == tmp_path
    assert any(line.startswith("zipped, direct upload:") and "of 50 MiB" in line for line in rest)
    assert any(line.startswith("unzipped:") and "of 250 MiB" in line for line in rest)


def test_package_json_times_the_handler_import_from_the_unpacked_zip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a sources-only zip (its imports of orjson/phonenumbers are not there), When packaged with --json
    code = main(["package", "--output-dir", str(tmp_path), "--no-dependencies", "--json"])
    document = json.loads(capsys.readouterr().out)
    # Then the cold start ran in a fresh interpreter without the venv, found the dependencies missing, and
    # the command fails the check (exit 1) instead of reporting a time for a zip that cannot start
    assert code == 1 and document["ok"] is False
    assert document["cold_start"]["failed"] is True
    assert "No module named" in document["cold_start"]["note"]
    assert [c["quota"] for c in document["limits"]] == ["zipped, direct upload", "unzipped"]


def test_the_lambda_extra_is_what_gets_pinned() -> None:
    names = [requirement.name for requirement in lambda_requirements()]
    assert names == ["phonenumbers", "orjson", "msgspec", "pybase64", "pycrate", "fastavro"]
    assert [pin.split("==")[0] for pin in pinned_requirements()] == names


def test_an_installed_version_outside_the_declared_bound_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[project.optional-dependencies]\nlambda = ["orjson>=999"]\n'
    )
    with pytest.raises(PackagingError, match=r"orjson .* asks for orjson>=999.*pip install -e"):
        pinned_requirements(tmp_path)


def test_a_checkout_without_the_lambda_extra_names_the_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(PackagingError, match=r"optional-dependencies\] lambda"):
        lambda_requirements(tmp_path)


def test_report_lists_the_top_level_modules_and_the_abi(tmp_path: Path) -> None:
    path = _zip_with(
        tmp_path / "z.zip",
        "pipeline/__init__.py",
        "orjson/orjson.cpython-312-x86_64-linux-gnu.so",
        "orjson-3.10.dist-info/RECORD",
        "six.py",
    )
    assert top_level_modules(path) == ("orjson", "pipeline", "six")
    assert zip_python_version(path) == "3.12"
    result = report(path, "sha", measure=False)
    assert result.ok and result.cold_start.median_ms is None


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
