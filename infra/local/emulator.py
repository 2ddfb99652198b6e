"""Start, probe and stop the embedded AWS emulator (MiniStack) on a loopback port.

MiniStack pins botocore, so it is installed in its own venv (`make emulator` -> .venv-emu/); this module
only needs the path of its `ministack` executable.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from infra.errors import InfraError

MINISTACK_VERSION = "1.5.33"
LOOPBACK = "127.0.0.1"
ENV_MINISTACK_BIN = "CDRCAP_MINISTACK_BIN"
ENV_FASTPATHS = "CDRCAP_EMULATOR_FASTPATHS"  # "0" runs MiniStack exactly as shipped (for A/B measurements)
FASTPATHS_SCRIPT = Path(__file__).with_name("ministack_fastpaths.py")
HEALTH_PATH = "/_ministack/health"
RESET_PATH = "/_ministack/reset"


class EmulatorError(InfraError):
    """The emulator could not be found, started or reached; the message says what to do."""


def find_ministack_bin() -> Path:
    """Where the `ministack` executable is: $CDRCAP_MINISTACK_BIN, ./.venv-emu, or beside this Python."""
    explicit = os.environ.get(ENV_MINISTACK_BIN)
    candidates = [Path(explicit)] if explicit else []
    candidates += [
        Path.cwd() / ".venv-emu" / "bin" / "ministack",
        Path(__file__).resolve().parents[2] / ".venv-emu" / "bin" / "ministack",
        Path(sys.executable).parent / "ministack",
    ]
    on_path = shutil.which("ministack")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise EmulatorError(
        f"MiniStack {MINISTACK_VERSION} is not installed. Run `make emulator` (creates .venv-emu/) or set "
        f"{ENV_MINISTACK_BIN} to the path of a `ministack` executable."
    )


def emulator_command(binary: Path) -> list[str]:
    """How to start MiniStack: through ministack_fastpaths.py with MiniStack's own interpreter (the venv's
    `python` beside the executable), or the executable itself when that is disabled or not found."""
    interpreter = binary.parent / "python"
    if os.environ.get(ENV_FASTPATHS, "1") == "0" or not interpreter.is_file():
        return [str(binary)]
    return [str(interpreter), str(FASTPATHS_SCRIPT)]


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = LOOPBACK) -> int:
    """A port the OS says is free now (there is a small race until someone binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def is_healthy(endpoint_url: str, timeout_s: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(endpoint_url + HEALTH_PATH, timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(predicate: object, deadline_s: float, interval_s: float = 0.05) -> bool:
    """Poll `predicate()` until it is true or `deadline_s` seconds have passed."""
    assert callable(predicate)
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())


@dataclass
class EmulatorProcess:
    """A MiniStack process this project started; stop it by its PID only."""

    pid: int
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def reset(self) -> None:
        """Drop every resource (MiniStack's reset endpoint); much faster than a restart between tests."""
        request = urllib.request.Request(self.endpoint_url + RESET_PATH, method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`; a clean stop lets MiniStack save persisted state."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=timeout_s)
            return
        if not pid_alive(self.pid):
            return
        os.kill(self.pid, signal.SIGTERM)
        if not wait_until(lambda: not pid_alive(self.pid), timeout_s):
            os.kill(self.pid, signal.SIGKILL)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def start_emulator(
    port: int | None = None,
    *,
    log_dir: Path,
    state_dir: Path | None = None,
    ready_timeout_s: float = 30.0,
) -> EmulatorProcess:
    """Start MiniStack on 127.0.0.1:`port` (a free one when None) and wait until it answers."""
    binary = find_ministack_bin()
    if port is None:
        port = free_port()
    elif not port_is_free(port):
        raise EmulatorError(
            f"port {port} on {LOOPBACK} is already in use. Stop what listens there "
            f"(`ss -ltnp 'sport = :{port}'` shows it) or choose another port with --port."
        )
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"ministack-{port}.log"
    env = dict(os.environ)
    env.update(
        {
            "GATEWAY_PORT": str(port),
            "BIND_HOST": LOOPBACK,
            "MINISTACK_HOST": LOOPBACK,
            "LOG_LEVEL": env.get("CDRCAP_EMULATOR_LOG_LEVEL", "WARNING"),
            "TMPDIR": str(log_dir),
            "S3_DATA_DIR": str(log_dir / f"s3-{port}"),
        }
    )
    if state_dir is not None:
        # Every service's state is saved on a clean stop (SIGTERM) and loaded at start; S3 object bodies
        # live on disk under the state dir instead of in memory.
        env.update(
            {
                "PERSIST_STATE": "1",
                "STATE_DIR": str(state_dir),
                "S3_PERSIST": "1",
                "S3_DATA_DIR": str(state_dir / "s3"),
            }
        )
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            emulator_command(binary),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # Ctrl-C in the parent's terminal must not kill it mid-save
        )
    emulator = EmulatorProcess(pid=process.pid, port=port, log_path=log_path, process=process)
    url = emulator.endpoint_url
    if not wait_until(lambda: process.poll() is not None or is_healthy(url), ready_timeout_s):
        emulator.stop()
        raise EmulatorError(
            f"MiniStack did not answer on {url} within {ready_timeout_s:.0f} s; see {log_path}"
        )
    if process.poll() is not None:
        raise EmulatorError(f"MiniStack exited with code {process.returncode} at start; see {log_path}")
    return emulator
