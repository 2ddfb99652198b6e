"""What Lambda's Python runtime lets a function import: its task root, the runtime's boto3, the stdlib.

On AWS `sys.path` is the task root (the unpacked zip), then the runtime's own directory, which holds boto3 and
its dependencies, then the standard library. The local stack and `cdrcap package` reproduce that so a
dependency missing from the zip fails here as it fails there (Runtime.ImportModuleError), instead of being
found in the project's venv. Standard library only: the local runtime's workers import this module before
they leave the project's environment.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

from infra.errors import InfraError

# What the Lambda Python runtime ships beside the standard library (boto3 and what it imports). The versions
# are this venv's, which may differ from the runtime's (docs/local.md).
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
_IMPORT_SYSTEM_MODULES = ("_frozen_importlib", "_frozen_importlib_external", "zipimport")


class LambdaEnvError(InfraError):
    """The runtime directory cannot be assembled; the message names the missing module and the fix."""


def stdlib_paths() -> list[str]:
    """This interpreter's standard library entries of sys.path (never its site-packages)."""
    # The base interpreter's, not a venv's: inside a venv `platbase` is the venv itself.
    stdlib = sysconfig.get_path("stdlib", vars={"installed_base": sys.base_prefix})
    platstdlib = sysconfig.get_path("platstdlib", vars={"platbase": sys.base_exec_prefix})
    zipped = os.path.join(sys.base_prefix, "lib", f"python{sys.version_info[0]}{sys.version_info[1]}.zip")
    candidates = [zipped, stdlib, platstdlib, os.path.join(platstdlib, "lib-dynload")]
    return list(dict.fromkeys(p for p in candidates if p))


def build_runtime_dir(target: Path) -> Path:
    """A directory holding only RUNTIME_MODULES, as symlinks to this interpreter's copies of them."""
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise LambdaEnvError(
                f"{name} is not installed in {sys.executable}; the local Lambda runtime provides it from "
                "there (it comes with boto3): install the project (`pip install -e .`)"
            )
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        link = target / source.name
        if link.is_symlink() and Path(os.readlink(link)) == source:
            continue
        link.unlink(missing_ok=True)
        link.symlink_to(source, target_is_directory=source.is_dir())
    return target


def lambda_sys_path(task_root: Path, runtime_dir: Path) -> list[str]:
    """The function's sys.path: task root first (the zip wins, as on AWS), then the runtime, then stdlib."""
    return [str(task_root), str(runtime_dir), *stdlib_paths()]


def enter(task_root: Path, runtime_dir: Path, keep: Iterable[str] = ()) -> None:
    """Turn this process into the function's environment before its handler is imported.

    sys.path becomes `lambda_sys_path`; import hooks other than the interpreter's own go (a venv's editable
    install adds a finder that would still find the project's sources); every module already imported that is
    neither standard library nor named in `keep` (the caller's own modules) is forgotten, so the function
    imports its dependencies from the task root or not at all.
    """
    sys.path[:] = lambda_sys_path(task_root, runtime_dir)
    sys.meta_path[:] = [f for f in sys.meta_path if _module_of(f) in _IMPORT_SYSTEM_MODULES]
    sys.path_hooks[:] = [h for h in sys.path_hooks if _module_of(h) in _IMPORT_SYSTEM_MODULES]
    sys.path_importer_cache.clear()
    kept = tuple(keep)
    allowed = {*sys.stdlib_module_names, *sys.builtin_module_names, *_IMPORT_SYSTEM_MODULES}
    allowed |= {"__main__", "__mp_main__"}
    for name in list(sys.modules):
        if name.partition(".")[0] in allowed or any(name == k or name.startswith(k + ".") for k in kept):
            continue
        if any(k.startswith(name + ".") for k in kept):  # a parent package of a kept module
            continue
        del sys.modules[name]
    for name in kept:  # the caller's packages stay loaded but closed: the function cannot import from them
        for parent in [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]:
            if parent in sys.modules and hasattr(sys.modules[parent], "__path__"):
                sys.modules[parent].__path__ = []
    importlib.invalidate_caches()
    sys.dont_write_bytecode = True  # /var/task is read-only on Lambda: every cold start compiles the zip
    os.environ["LAMBDA_TASK_ROOT"] = str(task_root)
    os.environ.pop("PYTHONPATH", None)  # what the function starts as a subprocess must not find the project


def _module_of(hook: object) -> str:
    owner = hook if isinstance(hook, type) else type(hook)
    module = getattr(hook, "__module__", None) or owner.__module__
    return str(module)
