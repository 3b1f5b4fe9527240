from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever in the file (top level, functions, ``TYPE_CHECKING`` blocks)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_benchmarks_and_the_packages_never_import_the_tests() -> None:
    """Nothing outside tests/ imports from tests/: the fakes tests and benchmarks share are in the packages.

    They live in agents.testing and bot.testing; a benchmark, or an installed package, would otherwise break
    without the test tree.
    """
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for top in ("agents", "bot", "benchmarks")
        for path in (ROOT / top).rglob("*.py")
        for module in imported_modules(path)
        if module == "tests" or module.startswith("tests.")
    }
    assert offenders == set()


def test_the_core_and_its_fakes_never_import_slack() -> None:
    """agents/ (agents.testing included) knows nothing of Slack: the Slack fake lives in bot.testing."""
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / "agents").rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in {"slack_sdk", "slack_bolt", "bot"}
    }
    assert offenders == set()
