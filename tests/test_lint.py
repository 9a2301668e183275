"""Lint, formatting and types are part of the test command: ruff (check and format) on the Python code, mypy
on the package (configured in pyproject.toml), snakefmt on the workflow. `snakemake --lint` runs in
tests/test_workflow.py.

The checkers come with the test extra (pinned in requirements.lock); a missing one fails here rather than
being skipped, so a fresh machine checks the same things as a developer's."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON = ["sbmljax", "tests", "benchmarks", "examples", "workflow", "docs/hooks.py", "docs/make_figures.py"]
"""The Python code (the Markdown pages' examples are run by tests/test_docs.py, not formatted)."""


def _tool(name: str) -> str:
    exe = Path(sys.executable).parent / name
    found = str(exe) if exe.exists() else shutil.which(name)
    assert found, f"{name} is not installed: install the test extra (pip install -e '.[test]')"
    return found


@pytest.mark.parametrize(
    "tool,args",
    [
        ("ruff", ["check", *PYTHON]),
        ("ruff", ["format", "--check", *PYTHON]),
        ("snakefmt", ["--check", "Snakefile", "workflow"]),
        ("mypy", []),  # files and strictness from [tool.mypy] in pyproject.toml
    ],
    ids=["ruff-check", "ruff-format", "snakefmt", "mypy"],
)
def test_code_is_linted_and_formatted(tool: str, args: list[str]) -> None:
    r = subprocess.run([_tool(tool), *args], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, f"{tool} {' '.join(args)}:\n{r.stdout[-3000:]}{r.stderr[-3000:]}"
