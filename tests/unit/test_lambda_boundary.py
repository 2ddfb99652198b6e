"""The Lambda boundary: the zip holds only code the function runs; pipeline/ imports nothing of the harness.

Read from the sources' import statements (function-level and TYPE_CHECKING imports included), so a new
harness-only module in pipeline/, or a pipeline module that imports the harness or an undeclared library,
fails here before it fails on AWS.
"""

from __future__ import annotations

import ast
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from infra.package import build_lambda_zip, lambda_requirements

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "pipeline"
ENTRY_POINT = "pipeline.handler"
# What the Lambda Python runtime provides besides the standard library.
RUNTIME_PROVIDED = {"boto3", "botocore"}
HARNESS_PACKAGES = {"loadgen", "capacity", "reports", "infra", "cdrcap", "tests"}
MOVED_OUT = {
    "pipeline/faults.py",
    "pipeline/fraud/eval_cdrs.py",
    "pipeline/fraud/eval_data.py",
    "pipeline/fraud/eval_scenarios.py",
    "pipeline/fraud/evaluation.py",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Absolute dotted names imported anywhere in the module (`from a import b` gives a and a.b)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def pipeline_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PIPELINE.rglob("*.py") if "__pycache__" not in p.parts}


def declared_top_levels() -> set[str]:
    """Importable names of the `lambda` extra's distributions (pycrate installs several)."""
    declared = {r.name.lower() for r in lambda_requirements()}
    return {
        top
        for top, dists in metadata.packages_distributions().items()
        if declared & {d.lower() for d in dists}
    }


def test_pipeline_imports_only_itself_its_declared_dependencies_the_stdlib_and_boto() -> None:
    allowed = {"pipeline", *sys.stdlib_module_names, *RUNTIME_PROVIDED, *declared_top_levels()}
    strays = {
        f"{name}: {imported}"
        for name, path in pipeline_modules().items()
        for imported in imports_of(path)
        if imported.partition(".")[0] not in allowed
    }
    assert not strays, f"pipeline imports outside the Lambda boundary: {sorted(strays)}"
    assert {"orjson", "phonenumbers", "pycrate_asn1dir"} <= declared_top_levels()


def test_pipeline_never_imports_the_harness() -> None:
    offenders = {
        name
        for name, path in pipeline_modules().items()
        if {i.partition(".")[0] for i in imports_of(path)} & HARNESS_PACKAGES
    }
    assert not offenders


def test_every_module_in_the_zip_is_reachable_from_the_handler(tmp_path: Path) -> None:
    # Given the zip's pipeline modules
    names = zipfile.ZipFile(build_lambda_zip(tmp_path, include_dependencies=False)).namelist()
    zipped = {n for n in names if n.endswith(".py")}
    assert not zipped & MOVED_OUT
    # When the imports are followed from the entry point (package __init__ files come with their modules)
    modules = pipeline_modules()
    reached, todo = set(), [ENTRY_POINT]
    while todo:
        current = todo.pop()
        if current in reached or current not in modules:
            continue
        reached.add(current)
        parents = [".".join(current.split(".")[:i]) for i in range(1, current.count(".") + 1)]
        todo += [m for m in imports_of(modules[current]) | set(parents) if m in modules]
    # Then nothing in the zip is code the function never runs (harness-only code lives in the harness)
    unreached = {n for n in zipped if module_name(ROOT / n) not in reached}
    assert not unreached, f"in the zip but never imported by {ENTRY_POINT}: {sorted(unreached)}"
