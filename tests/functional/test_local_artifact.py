"""The local stack runs the artifact: the Lambda zip, unpacked as a task root, imported by worker processes
that see only it, the runtime's boto3 and the standard library, so what the zip lacks fails here as on AWS."""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from infra.aws import client
from infra.local import artifact
from infra.local.esm.pool import WorkerPool
from infra.local.esm.worker import InvokeResult
from infra.local.stack import LocalStack, LocalStackConfig, StackInfo
from infra.package import build_lambda_zip
from loadgen.ber import encode_record
from tests.support.local_esm_harness import wait_for
from tests.support.local_stack import two_free_ports
from tests.support.pipeline_events import PIPELINE_ENV, ber_call_fields, kinesis_event

ROOT = Path(__file__).resolve().parents[2]
HANDLER = "pipeline.handler.handler"
# Placeholder stores on a closed port: these tests never get as far as a store call.
WORKER_ENV = {
    **PIPELINE_ENV,
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}
PROBE = """
import importlib.util, sys
NAMES = ["numpy", "pycrate_core", "orjson", "phonenumbers", "pipeline", "cdrcap", "infra.package", "pytest",
         "boto3", "botocore", "s3transfer", "json"]
def handler(event, context):
    return {"found": {n: importlib.util.find_spec(n) is not None for n in NAMES}, "sys_path": sys.path}
"""


def ber_call(reference: str) -> bytes:
    return encode_record(ber_call_fields(reference, int(time.time() * 1000) - 3_600_000))


def invoke_once(code: artifact.Artifact, handler: str, event: dict[str, Any]) -> InvokeResult:
    pool = WorkerPool(1, handler, WORKER_ENV, None, str(code.task_root), str(code.runtime_dir))
    try:
        return pool.invoke(orjson.dumps(event), "cdrcap-test-fn", "arn:aws:lambda:::function:x", 512, 60.0)
    finally:
        pool.shutdown()


def test_nothing_of_the_project_venv_is_importable_in_a_worker(tmp_path: Path) -> None:
    # Given a task root holding one probe module (a zip without numpy, pycrate, orjson or the project)
    zip_path = tmp_path / "probe.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("probe.py", PROBE)
    code = artifact.unpack(zip_path, tmp_path / "state")
    # When a worker imports the probe from it and runs it
    result = invoke_once(code, "probe.handler", {"Records": []})
    # Then only what Lambda's runtime provides is found besides the task root
    assert result.error is None, result.error
    found = result.response["found"]
    assert found == {
        "numpy": False,
        "pycrate_core": False,
        "orjson": False,
        "phonenumbers": False,
        "pipeline": False,
        "cdrcap": False,
        "infra.package": False,
        "pytest": False,
        "boto3": True,
        "botocore": True,
        "s3transfer": True,
        "json": True,
    }
    assert result.response["sys_path"][:2] == [str(code.task_root), str(code.runtime_dir)]
    assert not [p for p in result.response["sys_path"] if "site-packages" in p or p.startswith(str(ROOT))]


def test_a_zip_without_its_dependencies_fails_at_init_with_import_module_error(tmp_path: Path) -> None:
    # Given the pipeline zipped without the lambda extra (orjson is in this venv, not in the zip)
    code = artifact.unpack(build_lambda_zip(tmp_path / "zip", include_dependencies=False), tmp_path / "state")
    # When the worker starts (Lambda's INIT) and is invoked
    result = invoke_once(code, HANDLER, {"Records": []})
    # Then every invocation reports the init error, as Lambda does
    assert result.error is not None
    assert result.error.startswith("Runtime.ImportModuleError: ModuleNotFoundError: No module named")


@pytest.fixture(scope="module")
def zip_without_pycrate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipeline zipped with a `lambda` extra that forgot pycrate (the bug this issue fixed)."""
    source = tmp_path_factory.mktemp("source")
    (source / "pipeline").symlink_to(ROOT / "pipeline", target_is_directory=True)
    (source / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[project.optional-dependencies]\n'
        'lambda = ["phonenumbers", "orjson", "msgspec", "pybase64"]\n'
    )
    return build_lambda_zip(
        tmp_path_factory.mktemp("zip"),
        architecture=artifact.package.host_architecture(),
        python_version=artifact.package.host_python_version(),
        source_root=source,
    )


def test_a_ber_cdr_fails_the_batch_when_the_zip_lacks_pycrate(
    zip_without_pycrate: Path, tmp_path: Path
) -> None:
    # Given a zip with every dependency but pycrate (the handler imports pycrate lazily)
    code = artifact.unpack(zip_without_pycrate, tmp_path / "state")
    # When a batch holding a BER CDR is invoked
    result = invoke_once(code, HANDLER, kinesis_event([ber_call("0001")]))
    # Then the invocation is a function error naming the missing module, as on AWS
    assert result.error is not None and "ModuleNotFoundError" in result.error and "pycrate" in result.error


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[LocalStack, StackInfo]]:
    local = LocalStack(tmp_path / "state")
    info = local.up(LocalStackConfig(shards=1, port=two_free_ports(), concurrency_limit=1))
    try:
        yield local, info
    finally:
        if local.status() is not None:
            local.down()


def test_the_local_stack_decodes_a_ber_cdr_with_the_handler_from_its_unpacked_zip(
    stack: tuple[LocalStack, StackInfo],
) -> None:
    local, info = stack
    # Given a stack whose runtime imports the handler from the zip unpacked in its state dir
    task_root = Path(info.task_root)
    assert task_root.parent == local.state_dir and (task_root / "pycrate_asn1dir" / "CDR.py").is_file()
    esm = json.loads((local.state_dir / "esm.json").read_text())
    assert esm["task_root"] == info.task_root and info.code_sha256
    # When a BER CDR goes in through the limits proxy
    client(info.target(), "kinesis").put_record(
        StreamName=info.input_stream_name, PartitionKey="919812345678", Data=ber_call("0002")
    )
    # Then the handler decoded and applied it: its metrics line counts it as ok, nothing rejected
    log = Path(info.handler_log_path)
    lines = wait_for(
        lambda: log.exists() and [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")],
        deadline_s=60,
    )
    metrics = next(line for line in lines if "RecordsIn" in line)
    assert (metrics["RecordsIn"], metrics["RecordsOk"], metrics["RecordsRejected"]) == (1, 1, 0)
