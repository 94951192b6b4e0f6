"""The packages' shape, checked rather than promised (README, "Layout and dependencies"): no
function over 60 lines, no module over 500, no undefined or unused name, and the library never
reads the repository's tests/ by path (an installed wheel has none)."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ourad", "oracles", "reports")
MODULES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _rel(p):
    return p.relative_to(ROOT).as_posix()


def test_the_packages_have_modules():
    assert len(MODULES) > 20, [_rel(p) for p in MODULES]


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_module_and_function_sizes(path):
    text = path.read_text()
    assert text.count("\n") <= 500, f"{_rel(path)} has {text.count(chr(10))} lines"
    long = [f"{n.name} ({n.end_lineno - n.lineno + 1} lines, line {n.lineno})"
            for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > 60]
    assert not long, f"{_rel(path)}: functions over 60 lines: {long}"


def _docstrings(tree):
    for n in ast.walk(tree):
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            body = n.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                yield id(body[0].value)


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_no_package_code_names_the_tests_folder(path):
    """A path into tests/ (a string without spaces such as "tests/notes" or "tests") is how
    the library used to find its catalogue; prose that mentions a test file is fine."""
    tree = ast.parse(path.read_text())
    docs = set(_docstrings(tree))
    bad = [n.value for n in ast.walk(tree)
           if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
           and " " not in n.value and re.search(r"(^|/)tests(/|$)", n.value)]
    assert not bad, f"{_rel(path)} names tests/: {bad}"


def test_pyflakes_finds_nothing():
    pytest.importorskip("pyflakes")
    run = subprocess.run([sys.executable, "-m", "pyflakes", *PACKAGES], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0 and not run.stdout.strip(), run.stdout + run.stderr
