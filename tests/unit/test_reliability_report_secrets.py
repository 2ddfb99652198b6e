"""Reports never carry credentials: a run dir whose config holds fake AWS keys renders without them."""

import json
from pathlib import Path

import pytest

from reports.render import render_run
from reports.sample import write_sample_run

ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key: fake by construction
SESSION_KEY_ID = "ASIAJEXAMPLEXEG2JICEA"[:20]
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLEtokenEXAMPLEtokenEXAMPLE"
SECRETS = (ACCESS_KEY_ID, SESSION_KEY_ID, SECRET_KEY, SESSION_TOKEN, "hunter2")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Given a run whose config (and target) were written with credentials in every shape we know
    run_dir = write_sample_run(tmp_path_factory.mktemp("runs") / "20261126T000000Z-leaky")
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["config"].update(
        {
            "aws_access_key_id": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "credentials": {"SessionToken": SESSION_TOKEN, "AccessKeyId": SESSION_KEY_ID},
            "profile_note": f"ran with {ACCESS_KEY_ID} then {SESSION_KEY_ID}",
            "cli": f"cdrcap run --aws-secret-access-key {SECRET_KEY}",
            "env_line": f"AWS_SECRET_ACCESS_KEY={SECRET_KEY} AWS_SESSION_TOKEN={SESSION_TOKEN}",
            "locust_args": ["--host", "https://admin:hunter2@127.0.0.1:8089"],
        }
    )
    summary["target"]["endpoint_url"] = "http://user:hunter2@127.0.0.1:4566"
    summary_path.write_text(json.dumps(summary))
    # When the report is rendered
    render_run(run_dir)
    return run_dir


@pytest.mark.parametrize("secret", SECRETS)
def test_no_rendered_file_contains_the_secret(rendered: Path, secret: str) -> None:
    # Then no file of the run (summary, HTML, Markdown) holds any of them
    for path in rendered.iterdir():
        if path.is_file() and path.suffix in (".json", ".html", ".md"):
            assert secret not in path.read_text(errors="replace"), f"{secret[:6]}… leaked into {path.name}"


def test_the_useful_config_survives_scrubbing(rendered: Path) -> None:
    config = json.loads((rendered / "summary.json").read_text())["config"]
    assert config["shards"] == 2 and config["batch_size"] == 100
