"""The size targets of issue 14, checked: short functions and modules outside tests."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("libs", "services", "bench", "demo", "scripts", "deploy", "drills")
MAX_FUNCTION_LINES = 40
MAX_MODULE_LINES = 250


def sources() -> list[Path]:
    return sorted(p for top in CHECKED for p in (ROOT / top).rglob("*.py") if "_pb2" not in p.name)


def functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno
    ]


def test_the_checked_tree_has_python_sources():
    assert len(sources()) > 50


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_250_lines(path: Path):
    assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES


def test_no_function_is_over_40_lines():
    long = [
        (name, n) for path in sources() for name, n in functions(path) if n > MAX_FUNCTION_LINES
    ]
    assert long == []
