"""cdrcap/config.py: where the config comes from, its defaults, and errors that name the key."""

from pathlib import Path

import pytest

from cdrcap.config import ConfigError, load_config
from reports.compare import Thresholds

REPO = Path(__file__).resolve().parents[2]


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_the_repository_ships_a_demo_and_a_ci_profile() -> None:
    config = load_config(cwd=REPO)
    demo, ci = config.profile("demo"), config.profile("ci")
    assert demo.steps == (80, 160, 240, 320)
    assert demo.duration_s < 10 * 60
    assert ci.duration_s <= 90
    assert config.target().is_local
    assert config.target("staging").region


def test_defaults_apply_without_any_config_file(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path)
    assert config.source is None
    assert config.target().name == "local"
    assert config.thresholds == Thresholds()


def test_cdrcap_toml_wins_over_pyproject(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", "[tool.cdrcap.profiles.p]\nsteps = [1]\n")
    _write(tmp_path, "cdrcap.toml", "[profiles.p]\nsteps = [2]\n")
    assert load_config(cwd=tmp_path).profile("p").steps == (2,)


def test_an_explicit_file_wins_over_both(tmp_path: Path) -> None:
    _write(tmp_path, "cdrcap.toml", "[profiles.p]\nsteps = [2]\n")
    explicit = _write(tmp_path, "other.toml", "[profiles.p]\nsteps = [3]\n")
    assert load_config(explicit, cwd=tmp_path).profile("p").steps == (3,)


def test_the_nearest_config_up_the_tree_is_used(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", "[tool.cdrcap.compare]\ne2e_p99_increase_pct = 15\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert load_config(cwd=nested).thresholds.e2e_p99_increase_pct == 15


def test_a_bad_step_names_its_index_and_value(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", '[tool.cdrcap.profiles.demo]\nsteps = [80, 160, "fast"]\n')
    with pytest.raises(ConfigError) as error:
        load_config(cwd=tmp_path)
    assert str(error.value).endswith(
        'tool.cdrcap.profiles.demo.steps[2]: expected a positive number, got "fast"'
    )


@pytest.mark.parametrize(
    ("profile_lines", "message"),
    [
        ("step_duraton_s = 30", r"profiles\.demo\.step_duraton_s: unknown key"),
        ("parallelization_factor = 11", r"parallelization_factor: expected an integer in \[1, 10\], got 11"),
        (
            "record_formats = { json_v1 = 0.5, csv_v1 = 0.4 }",
            r"profiles\.demo\.record_formats: expected shares that sum to 1",
        ),
        ("slo = { e2e_p99_ms = -5 }", r"profiles\.demo\.slo\.e2e_p99_ms: expected a positive number, got -5"),
        (
            'shape = "zigzag"',
            r'profiles\.demo\.shape: expected one of steady, step, ramp, diurnal, burst, soak, got "zigzag"',
        ),
        ("shards = 1.5", r"profiles\.demo\.shards: expected a positive integer, got 1\.5"),
        (
            'exactly_once = "exact"',
            r'profiles\.demo\.exactly_once: expected one of per_record, folded, ledger, got "exact"',
        ),
        ('scaling_day = "weekly"', r'profiles\.demo\.scaling_day: expected diurnal or burst.*got "weekly"'),
        (
            'scaling_day = "diurnal,burst=8x10@25:00"',
            r"profiles\.demo\.scaling_day: .*'burst=8x10@25:00' is not a burst",
        ),
    ],
)
def test_a_bad_profile_key_is_named_with_the_fix(tmp_path: Path, profile_lines: str, message: str) -> None:
    # Given a profile with one bad key, When the config loads, Then the error names the key and expectation
    _write(tmp_path, "cdrcap.toml", f"[profiles.demo]\nsteps = [1]\n{profile_lines}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(cwd=tmp_path)


def test_a_profile_chooses_the_local_stacks_exactly_once_design(tmp_path: Path) -> None:
    _write(tmp_path, "cdrcap.toml", '[profiles.demo]\nsteps = [1]\nexactly_once = "ledger"\n')
    assert load_config(cwd=tmp_path).profile("demo").exactly_once == "ledger"


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "cdrcap.toml", "[profiles.demo\n")
    with pytest.raises(ConfigError, match=f"{path}: not valid TOML"):
        load_config(cwd=tmp_path)


def test_an_unknown_profile_says_where_to_define_it(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"define \[tool\.cdrcap\.profiles\.soak\]"):
        config.profile("soak")


def test_a_target_default_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, "cdrcap.toml", 'default_target = "prod"\n')
    with pytest.raises(ConfigError, match=r"default_target: expected one of emulator, local, got \"prod\""):
        load_config(cwd=tmp_path)
