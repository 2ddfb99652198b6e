"""The embedded local stack: emulator + pipeline resources + limits proxy + ESM runtime, as one unit.

`LocalStack(state_dir).up(LocalStackConfig(...)) -> StackInfo`, `.down()`, `.status()`. The state dir
holds state.json (PIDs and StackInfo), the processes' logs, the ESM checkpoints, the invocation trace and
the metrics CSV.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import time
from pathlib import Path

from capacity.quotas import EFO_READ_BYTES_PER_S_PER_CONSUMER
from infra.aws import Target, client
from infra.errors import InfraError
from infra.local import artifact, deploy_local, processes
from infra.local.artifact import Artifact
from infra.local.emulator import (
    EmulatorProcess,
    free_port,
    pid_alive,
    port_is_free,
    start_emulator,
)
from infra.local.esm.config import POLLS_FILE, EsmConfig, EsmConfigError
from infra.local.esm.other_consumers import fair_share_interval_s
from infra.local.stack_values import DEFAULT_PORT, LocalStackConfig, StackInfo
from infra.schema_registry import ensure_cdr_schemas, registry_name
from pipeline import constants

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_STATE_DIR",
    "LocalStack",
    "LocalStackConfig",
    "LocalStackError",
    "StackInfo",
]

DEFAULT_STATE_DIR = Path(".cdrcap/local")
STATE_FILE = "state.json"
PROCESS_NAMES = ("esm", "proxy", "glue", "emulator")  # the order `down` stops them in
# the emulator may be saving its state
STOP_TIMEOUT_S = {"esm": 30.0, "proxy": 10.0, "glue": 10.0, "emulator": 30.0}
EMULATOR_STATE_DIR = "emulator"  # under the state dir, when the stack persists the emulator's state
READY_TIMEOUT_S = 30.0
PACKAGED_PACKAGE = "pipeline"  # what the Lambda zip holds (infra/package.py)
ENV_GLUE_ENDPOINT = "AWS_ENDPOINT_URL_GLUE"  # boto3's service-specific endpoint, over AWS_ENDPOINT_URL
PLACEHOLDER_OUTPUTS = dict.fromkeys(
    deploy_local.OUTPUT_KEYS, "arn:aws:kinesis:us-east-1:000000000000:stream/x"
)


class LocalStackError(InfraError):
    """The local stack cannot do what was asked; the message says why and what to run instead."""


def runs_the_zip(handler: str) -> bool:
    """The pipeline's handler runs from the unpacked zip; any other (the tests' own) from the project."""
    return handler.partition(".")[0] == PACKAGED_PACKAGE


def check_handler_importable(handler: str) -> None:
    """Fail before starting anything: a missing handler would only show as errors in every invocation."""
    module_name = handler.rpartition(".")[0]
    try:
        found = importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise LocalStackError(
            f"the handler module {module_name!r} (from {handler!r}) cannot be imported here; "
            "is it in this checkout? Pass --handler with an importable dotted path"
        )


class LocalStack:
    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR) -> None:
        self.state_dir = state_dir.resolve()
        self.state_path = self.state_dir / STATE_FILE

    def status(self) -> StackInfo | None:
        """The stack recorded in the state dir, or None when nothing was brought up there."""
        if not self.state_path.exists():
            return None
        return StackInfo.from_dict(json.loads(self.state_path.read_text()))

    def alive(self) -> dict[str, bool]:
        info = self.status()
        return {name: pid_alive(pid) for name, pid in info.pids.items()} if info else {}

    def up(self, config: LocalStackConfig) -> StackInfo:
        running = self.alive()
        if any(running.values()):
            info = self.status()
            assert info is not None
            raise LocalStackError(
                f"a local stack is already up from {self.state_dir} (emulator {info.endpoint_url}); "
                "run `cdrcap down` first, or use another --state-dir and --port"
            )
        if not runs_the_zip(config.handler):
            check_handler_importable(config.handler)
        # Lambda's bounds (EsmConfigError), checked before anything starts, not after the emulator is up
        self._esm_config(config, PLACEHOLDER_OUTPUTS, {}, "http://127.0.0.1:1", "http://127.0.0.1:2")
        for port in (config.port, config.port + 1):
            if not port_is_free(port):
                raise LocalStackError(
                    f"port {port} on 127.0.0.1 is in use (the stack needs {config.port} for the emulator and "
                    f"{config.port + 1} for the limits proxy). Stop what listens there "
                    f"(`ss -ltnp 'sport = :{port}'`) or pass another --port"
                )
        self._reset_state_dir()
        code = self._prepare_code(config)
        pids: dict[str, int] = {}
        try:
            return self._bring_up(config, pids, code)
        except Exception:
            self._stop_pids(pids)
            self.state_path.unlink(missing_ok=True)
            raise

    def restart_emulator(self) -> StackInfo:
        """Stop the emulator cleanly (it saves its state) and start it again on the same port and state,
        while the limits proxy and the ESM runtime keep running (they see refused connections meanwhile and
        retry). Needs a stack brought up with `persist_emulator`; without it a restart is an empty world."""
        info = self.status()
        if info is None:
            raise LocalStackError(f"nothing is up in {self.state_dir}; `cdrcap up` starts a stack")
        if not info.config.persist_emulator:
            raise LocalStackError(
                "the emulator of this stack runs without persistence, so a restart would lose every stream, "
                "table, queue and object; bring the stack up with persist_emulator=True to restart it"
            )
        if processes.stop_pid(info.pids["emulator"], timeout_s=STOP_TIMEOUT_S["emulator"]):
            raise LocalStackError(
                f"the emulator did not stop within {STOP_TIMEOUT_S['emulator']:.0f} s and was killed, so its "
                "saved state may be partial (services are saved one by one); `cdrcap down` and `cdrcap up` "
                "start a fresh world"
            )
        emulator = start_emulator(
            info.config.port,
            log_dir=self.state_dir / "logs",
            state_dir=self.state_dir / EMULATOR_STATE_DIR,
            ready_timeout_s=READY_TIMEOUT_S,
        )
        processes.adopt(emulator.process)
        document = info.to_dict()
        document["pids"] = {**info.pids, "emulator": emulator.pid}
        self.state_path.write_text(json.dumps(document, indent=1))  # so `down` stops the new one
        return StackInfo.from_dict(document)

    def follow_deployment(self) -> StackInfo:
        """After a change set updated the stack (`cdrcap deploy --target emulator`), run the local ESM
        runtime with what the stack now says: the (disabled) mapping's settings and the function's memory,
        timeout and environment, read back through the Lambda API as the staging path reads them. The
        runtime restarts from its checkpoints, so nothing is read twice beyond Lambda's at-least-once."""
        info = self.status()
        if info is None:
            raise LocalStackError(f"nothing is up in {self.state_dir}; `cdrcap up` starts a stack")
        target = Target(name="local", region=info.region, endpoint_url=info.endpoint_url, is_local=True)
        lambda_client = client(target, "lambda")
        mappings = lambda_client.list_event_source_mappings(
            FunctionName=info.function_name, EventSourceArn=info.input_stream_arn
        )["EventSourceMappings"]
        if not mappings:
            raise LocalStackError(
                f"the stack {info.stack_name} has no event source mapping on {info.input_stream_name}; "
                "deploy infra/pipeline.yaml (`cdrcap deploy --target emulator`)"
            )
        deploy_local.disable_mappings(lambda_client, info.function_name)
        mapping = mappings[0]
        function = lambda_client.get_function_configuration(FunctionName=info.function_name)
        config = dataclasses.replace(
            info.config,
            batch_size=int(mapping.get("BatchSize", info.config.batch_size)),
            batching_window_s=float(mapping.get("MaximumBatchingWindowInSeconds", 0)),
            parallelization_factor=int(mapping.get("ParallelizationFactor", 1)),
            max_retries=int(mapping.get("MaximumRetryAttempts", info.config.max_retries)),
            max_record_age_s=int(mapping.get("MaximumRecordAgeInSeconds", info.config.max_record_age_s)),
            memory_mb=int(function.get("MemorySize", info.config.memory_mb)),
            function_timeout_s=int(function.get("Timeout", info.config.function_timeout_s)),
        )
        esm_path = self.state_dir / "esm.json"
        running = EsmConfig.from_dict(json.loads(esm_path.read_text()))
        template_env = deploy_local.function_environment(lambda_client, info.function_name)
        try:
            esm_config = dataclasses.replace(
                running,
                batch_size=config.batch_size,
                batching_window_s=config.batching_window_s,
                parallelization_factor=config.parallelization_factor,
                max_retry_attempts=config.max_retries,
                max_record_age_s=config.max_record_age_s,
                memory_mb=config.memory_mb,
                function_timeout_s=config.function_timeout_s,
                handler_env={**running.handler_env, **template_env, **config.handler_env},
            )
        except EsmConfigError as error:
            raise LocalStackError(f"the deployed mapping is outside Lambda's bounds: {error}") from error
        processes.stop_pid(info.pids["esm"], timeout_s=STOP_TIMEOUT_S["esm"], process_group=True)
        esm_path.write_text(json.dumps(esm_config.to_dict(), indent=1))
        esm_log = self.state_dir / "logs" / "esm-runtime.log"
        pid = processes.spawn_module("infra.local.esm", ["--config", str(esm_path)], log_path=esm_log)
        document = info.to_dict()
        document["pids"] = {**info.pids, "esm": pid}
        document["config"] = dataclasses.asdict(config)
        self.state_path.write_text(json.dumps(document, indent=1))
        if not pid_alive(pid):
            raise LocalStackError(f"the ESM runtime exited at restart; see {esm_log}")
        return StackInfo.from_dict(document)

    def _reset_state_dir(self) -> None:
        """A fresh emulator has fresh streams: old checkpoints and traces would describe another stream."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.state_dir / EMULATOR_STATE_DIR, ignore_errors=True)  # a saved world of an old run
        for name in (
            STATE_FILE,
            "checkpoints.json",
            "invocations.csv",
            "metrics.csv",
            POLLS_FILE,
            "handler.log",
            "esm.json",
        ):
            (self.state_dir / name).unlink(missing_ok=True)

    def _prepare_code(self, config: LocalStackConfig) -> Artifact | None:
        """The zip built for this host (or config.code_zip), unpacked as the task root; None for a test's
        handler that lives in the project."""
        if not runs_the_zip(config.handler):
            return None
        try:
            return artifact.prepare(
                self.state_dir, zip_path=Path(config.code_zip) if config.code_zip else None
            )
        except (InfraError, OSError) as error:
            raise LocalStackError(
                f"cannot build or unpack the Lambda zip the local stack runs: {error}"
            ) from error

    def _bring_up(self, config: LocalStackConfig, pids: dict[str, int], code: Artifact | None) -> StackInfo:
        logs = self.state_dir / "logs"
        # The Glue Schema Registry (moto; MiniStack has none) starts first and loads while MiniStack starts
        # and the stack deploys, so it adds no wait of its own to `up` on an idle machine.
        glue_port = free_port()
        glue_log = logs / "glue-registry.log"
        pids["glue"] = processes.spawn_module(
            "infra.local.glue_server", ["--port", str(glue_port)], log_path=glue_log
        )
        glue_url = f"http://127.0.0.1:{glue_port}"
        emulator: EmulatorProcess = start_emulator(
            config.port,
            log_dir=logs,
            state_dir=self.state_dir / EMULATOR_STATE_DIR if config.persist_emulator else None,
            ready_timeout_s=READY_TIMEOUT_S,
        )
        pids["emulator"] = emulator.pid
        processes.adopt(emulator.process)
        target = Target(name="local", region=config.region, endpoint_url=emulator.endpoint_url, is_local=True)
        outputs = deploy_local.deploy_stack(
            client(target, "cloudformation"),
            client(target, "s3"),
            stack_name=config.resource_prefix,
            parameters=config.template_parameters(),
            template_path=Path(config.template_path),
            work_dir=self.state_dir / "build",
            code_zip=code.zip_path if code else None,
        )
        deploy_local.enable_ttl(client(target, "dynamodb"), outputs[constants.OUTPUT_AGGREGATES_TABLE])
        deploy_local.disable_mappings(client(target, "lambda"), outputs[constants.OUTPUT_FUNCTION_NAME])

        proxy_port = config.port + 1
        proxy_log = logs / "limits-proxy.log"
        arguments = [
            "--upstream",
            emulator.endpoint_url,
            "--port",
            str(proxy_port),
            "--scale",
            str(config.scale),
            "--region",
            config.region,
            "--publish-metrics",
        ]
        pids["proxy"] = processes.spawn_module("infra.local.limits_proxy", arguments, log_path=proxy_log)
        # While the proxy starts: what infra/pipeline.yaml creates on AWS with SchemaRegistry=true, the
        # registry and CDR schema v1 and v2 (~1.4 s, mostly moto loading its Glue backend: hidden here).
        processes.wait_for_port(pids["glue"], glue_port, timeout_s=READY_TIMEOUT_S, log_path=glue_log)
        glue_target = dataclasses.replace(target, glue_endpoint_url=glue_url)
        ensure_cdr_schemas(client(glue_target, "glue"), registry_name(config.resource_prefix))
        processes.wait_for_port(pids["proxy"], proxy_port, timeout_s=READY_TIMEOUT_S, log_path=proxy_log)
        proxy_url = f"http://127.0.0.1:{proxy_port}"

        template_env = deploy_local.function_environment(
            client(target, "lambda"), outputs[constants.OUTPUT_FUNCTION_NAME]
        )
        template_env = {**template_env, ENV_GLUE_ENDPOINT: glue_url}  # the handler's GetSchemaVersion
        esm_config = self._esm_config(config, outputs, template_env, emulator.endpoint_url, proxy_url, code)
        esm_path = self.state_dir / "esm.json"
        esm_path.write_text(json.dumps(esm_config.to_dict(), indent=1))
        esm_log = logs / "esm-runtime.log"
        pids["esm"] = processes.spawn_module("infra.local.esm", ["--config", str(esm_path)], log_path=esm_log)

        info = StackInfo(
            endpoint_url=emulator.endpoint_url,
            kinesis_endpoint_url=proxy_url,
            glue_endpoint_url=glue_url,
            region=config.region,
            stack_name=config.resource_prefix,
            input_stream_name=outputs[constants.OUTPUT_INPUT_STREAM_NAME],
            input_stream_arn=outputs[constants.OUTPUT_INPUT_STREAM_ARN],
            output_stream_name=outputs[constants.OUTPUT_OUTPUT_STREAM_NAME],
            output_stream_arn=outputs[constants.OUTPUT_OUTPUT_STREAM_ARN],
            aggregates_table=outputs[constants.OUTPUT_AGGREGATES_TABLE],
            archive_bucket=outputs[constants.OUTPUT_ARCHIVE_BUCKET],
            dlq_url=outputs[constants.OUTPUT_DLQ_URL],
            dlq_arn=outputs[constants.OUTPUT_DLQ_ARN],
            alert_bus=outputs[constants.OUTPUT_ALERT_BUS],
            function_name=outputs[constants.OUTPUT_FUNCTION_NAME],
            state_dir=str(self.state_dir),
            trace_path=str(esm_config.trace_path),
            metrics_path=str(esm_config.metrics_path),
            handler_log_path=str(esm_config.handler_log_path),
            pids=dict(pids),
            started_at_epoch_s=time.time(),
            config=config,
            code_sha256=code.sha256 if code else "",
            task_root=str(code.task_root) if code else "",
        )
        self.state_path.write_text(json.dumps(info.to_dict(), indent=1))
        if not pid_alive(pids["esm"]):
            raise LocalStackError(f"the ESM runtime exited at start; see {esm_log}")
        return info

    def _esm_config(
        self,
        config: LocalStackConfig,
        outputs: dict[str, str],
        template_env: dict[str, str],
        endpoint_url: str,
        proxy_url: str,
        code: Artifact | None = None,
    ) -> EsmConfig:
        # The function's environment from the template wins; these fill in what an emulator leaves out.
        handler_env = {
            constants.ENV_INPUT_STREAM_ARN: outputs[constants.OUTPUT_INPUT_STREAM_ARN],
            constants.ENV_OUTPUT_STREAM: outputs[constants.OUTPUT_OUTPUT_STREAM_NAME],
            constants.ENV_AGGREGATES_TABLE: outputs[constants.OUTPUT_AGGREGATES_TABLE],
            constants.ENV_ARCHIVE_BUCKET: outputs[constants.OUTPUT_ARCHIVE_BUCKET],
            constants.ENV_DLQ_URL: outputs[constants.OUTPUT_DLQ_URL],
            constants.ENV_ALERT_BUS: outputs[constants.OUTPUT_ALERT_BUS],
            constants.ENV_HOME_REGION: config.home_region,
            constants.ENV_METRICS_NAMESPACE: constants.DEFAULT_METRICS_NAMESPACE,
            **template_env,
            **config.handler_env,
        }
        return EsmConfig(
            stream_name=outputs[constants.OUTPUT_INPUT_STREAM_NAME],
            stream_arn=outputs[constants.OUTPUT_INPUT_STREAM_ARN],
            function_name=outputs[constants.OUTPUT_FUNCTION_NAME],
            kinesis_endpoint_url=proxy_url,
            endpoint_url=endpoint_url,
            state_dir=self.state_dir,
            region=config.region,
            handler=config.handler,
            batch_size=config.batch_size,
            batching_window_s=config.batching_window_s,
            parallelization_factor=config.parallelization_factor,
            bisect_batch_on_function_error=config.bisect_batch_on_function_error,
            max_retry_attempts=config.max_retries,
            max_record_age_s=config.max_record_age_s,
            on_failure_destination_url=outputs[constants.OUTPUT_DLQ_URL],
            concurrency_limit=config.concurrency_limit,
            function_timeout_s=config.function_timeout_s,
            memory_mb=config.memory_mb,
            cpu_share_of_memory=config.cpu_share_of_memory,
            handler_env=handler_env,
            consumer_mode=config.consumer_mode,
            other_consumers=config.other_consumers,
            other_consumer_poll_interval_s=config.other_consumer_poll_interval_s
            or fair_share_interval_s(config.other_consumers + 1, config.scale),
            efo_read_bytes_per_s=EFO_READ_BYTES_PER_S_PER_CONSUMER * config.scale,  # scaled like the proxy
            task_root=str(code.task_root) if code else None,
            runtime_dir=str(code.runtime_dir) if code else None,
        )

    def down(self) -> dict[str, str]:
        """Stop every process of the stack; returns name -> "stopped" | "killed" | "was not running"."""
        info = self.status()
        if info is None:
            raise LocalStackError(
                f"nothing is up in {self.state_dir} (no {STATE_FILE}); `cdrcap up` starts a stack"
            )
        outcome = self._stop_pids(info.pids)
        self.state_path.unlink(missing_ok=True)
        return outcome

    def _stop_pids(self, pids: dict[str, int]) -> dict[str, str]:
        outcome: dict[str, str] = {}
        for name in PROCESS_NAMES:
            pid = pids.get(name)
            if pid is None:
                continue
            if not pid_alive(pid):
                outcome[name] = "was not running"
                processes.stop_pid(pid, timeout_s=0, process_group=name == "esm")
                continue
            killed = processes.stop_pid(pid, timeout_s=STOP_TIMEOUT_S[name], process_group=name == "esm")
            outcome[name] = "killed" if killed else "stopped"
        return outcome
