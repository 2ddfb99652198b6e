"""The test tree keeps its shape: tests share by fixture (conftest.py) and tests/support, never by importing
another test module; marker folders hold only tests; the folder, not the module, sets the marker."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
MARKER_FOLDERS = ("unit", "functional", "e2e")


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
    return modules


def test_no_module_under_tests_imports_a_test_module() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)} imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        for module in sorted(imported_modules(path))
        if module.split(".")[:1] == ["tests"] and module.split(".")[-1].startswith("test_")
    ]
    assert offenders == [], f"share through conftest.py fixtures or tests/support instead: {offenders}"


def test_marker_folders_hold_only_test_modules() -> None:
    helpers = [
        str(path.relative_to(TESTS.parent))
        for folder in MARKER_FOLDERS
        for path in sorted((TESTS / folder).rglob("*.py"))
        if not path.name.startswith("test_") and path.name not in ("conftest.py", "__init__.py")
    ]
    assert helpers == [], f"move helper modules to tests/support: {helpers}"


def test_the_folder_marker_is_not_repeated_per_module() -> None:
    repeated = [
        str(path.relative_to(TESTS.parent))
        for folder in MARKER_FOLDERS
        for path in sorted((TESTS / folder).rglob("test_*.py"))
        if f"pytest.mark.{folder}" in path.read_text()
    ]
    assert repeated == [], f"tests/conftest.py marks by folder; drop the module's own mark: {repeated}"
