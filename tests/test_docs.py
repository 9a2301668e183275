"""The documentation: every example on the site runs, the site builds strictly, and the reference is complete.

- Every ```python block of `docs/**/*.md` and `README.md` runs. The blocks of one page share a namespace and
  run in order, in a fresh Python process (as a reader would run them), in a temporary working directory
  where the repository's `models/` and `data/` are reachable as `models/` and `data/`.
- In ```bash blocks, every line that starts with `sbmljax ` runs as `python -m sbmljax …` in the same
  directory, in page order with the Python blocks; it must exit with status 0. Other shell lines (installs,
  `snakemake`, benchmarks) are not run here.
- A Python block whose first line is `# doc: no-run: <reason>` is skipped. That is only for examples that
  need what a test cannot have (a cluster, a GPU); each one must be listed in `NO_RUN`.
- `mkdocs build --strict` succeeds (the docs extra is part of the test extra, so CI has mkdocs).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import sbmljax

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_generated" not in p.parts) + [REPO / "README.md"]
NO_RUN_MARK = "# doc: no-run:"
NO_RUN: dict[tuple[str, str], str] = {}
"""`(page, first line of the block)` → why it cannot run in a test. Keep this short."""
PAGE_TIMEOUT = 600
"""A guard against a hanging page, not a timing test: docs/likelihood.md took 199 s in a full run on 2 loaded cores
and over 300 s at a load of 7 (2026-12-02), most of it compiling its filters."""
LINKED = ("models", "data")
"""Repository folders the examples read, linked into their working directory."""

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*$")


def blocks(page: Path) -> list[dict]:
    """The fenced code blocks of a page: `{"lang", "line" (of the first code line), "code"}`, in order."""
    out, current = [], None
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        m = _FENCE.match(line)
        if current is None:
            if m and m["lang"]:
                current = {"lang": m["lang"], "line": number + 1, "indent": len(m["indent"]), "lines": []}
            elif m:
                current = {"lang": "", "line": number + 1, "indent": len(m["indent"]), "lines": []}
        elif m and not m["lang"] and line.strip() == "```":
            code = "\n".join(x[current["indent"] :] for x in current.pop("lines"))
            current.pop("indent")
            out.append({**current, "code": code})
            current = None
        else:
            current["lines"].append(line)
    assert current is None, f"{page}: a code block starting at line {current['line'] - 1} is not closed"
    return out


def runnable(page: Path, name: str | None = None) -> list[dict]:
    """What the test runs from a page: python blocks (minus listed no-run ones) and `sbmljax` commands."""
    name = name or str(page.relative_to(REPO))
    steps = []
    for b in blocks(page):
        if b["lang"] in ("python", "py"):
            first = b["code"].lstrip().splitlines()[0] if b["code"].strip() else ""
            if first.startswith(NO_RUN_MARK):
                assert (name, first) in NO_RUN, f"{name}:{b['line']}: a no-run block not listed in NO_RUN"
                continue
            steps.append({"kind": "python", "line": b["line"], "code": b["code"]})
        elif b["lang"] in ("bash", "sh", "shell"):
            pending, start = "", 0
            for offset, line in enumerate(b["code"].splitlines()):
                start = start if pending else b["line"] + offset
                pending += line
                if pending.endswith("\\"):  # a continued line
                    pending = pending[:-1] + " "
                    continue
                if pending.startswith("sbmljax "):
                    steps.append({"kind": "cli", "line": start, "code": pending[len("sbmljax ") :]})
                pending = ""
    return steps


RUNNER = textwrap.dedent(
    """
    import json, shlex, subprocess, sys, traceback

    def main():
        page, steps = json.load(open(sys.argv[1], encoding="utf-8"))
        namespace = {"__name__": "__main__"}
        for step in steps:
            where = f"{page}:{step['line']}"
            print(f"--- {where} ({step['kind']})", flush=True)
            if step["kind"] == "python":
                code = compile("\\n" * (step["line"] - 1) + step["code"], page, "exec")
                try:
                    exec(code, namespace)
                except BaseException:
                    traceback.print_exc()
                    print(f"FAILED: the example at {where}", flush=True)
                    sys.exit(1)
            else:
                args = shlex.split(step["code"], comments=True)
                r = subprocess.run([sys.executable, "-m", "sbmljax", *args])
                if r.returncode != 0:
                    print(f"FAILED: `sbmljax {step['code']}` at {where} exited with {r.returncode}", flush=True)
                    sys.exit(1)

    if __name__ == "__main__":
        main()
    """
)


@pytest.fixture(scope="module")
def compilation_cache(tmp_path_factory) -> Path:
    """A JAX compilation cache shared by the example processes of this test module: pages that compile the
    same simulation (the SIR model, say) pay for it once. It changes no result, only the compile time."""
    return tmp_path_factory.mktemp("jax-cache")


def _env(cache: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if cache is not None:
        env["JAX_COMPILATION_CACHE_DIR"] = str(cache)
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env["MPLBACKEND"] = "Agg"
    env.pop("JAX_ENABLE_X64", None)  # examples see JAX's defaults, as a reader's program does
    return env


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_page_examples_run(page: Path, tmp_path: Path, compilation_cache: Path) -> None:
    steps = runnable(page)
    if not steps:
        pytest.skip("no runnable examples on this page")
    (tmp_path / "steps.json").write_text(json.dumps([str(page.relative_to(REPO)), steps]), encoding="utf-8")
    (tmp_path / "run_examples.py").write_text(RUNNER, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    for folder in LINKED:
        if (REPO / folder).is_dir():
            (work / folder).symlink_to(REPO / folder, target_is_directory=True)
    r = subprocess.run(
        [sys.executable, str(tmp_path / "run_examples.py"), str(tmp_path / "steps.json")],
        cwd=work,
        env=_env(compilation_cache),
        capture_output=True,
        text=True,
        timeout=PAGE_TIMEOUT,
    )
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]


def test_block_parser(tmp_path: Path) -> None:
    page = "Text\n\n```python\nx = 1\n```\n\n```bash\nsbmljax info a.xml\npip install x\nsbmljax simulate \\\n  --seed 0\n```\n"
    p = tmp_path / "page.md"
    p.write_text(page, encoding="utf-8")
    steps = runnable(p, "page.md")
    assert [(s["kind"], s["line"], s["code"]) for s in steps] == [
        ("python", 4, "x = 1"),
        ("cli", 8, "info a.xml"),
        ("cli", 10, "simulate    --seed 0"),
    ]


def test_no_run_blocks_are_listed() -> None:
    found = set()
    for page in PAGES:
        name = str(page.relative_to(REPO))
        for b in blocks(page):
            first = b["code"].lstrip().splitlines()[0] if b["code"].strip() else ""
            if b["lang"] in ("python", "py") and first.startswith(NO_RUN_MARK):
                found.add((name, first))
    assert found == set(NO_RUN), "NO_RUN must list exactly the no-run blocks (and say why each cannot run)"


def test_every_page_has_a_runnable_example_or_is_reference() -> None:
    # Guide pages teach by example; only the API reference and the generated matrix may do without.
    without = [p.relative_to(REPO) for p in PAGES if not runnable(p) and p.parent.name != "api"]
    assert without == [], f"pages without a runnable example: {without}"


def test_errors_page_names_every_error_type() -> None:
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    missing = [name for name in sbmljax.errors.__all__ if f"| `{name}` |" not in text]
    assert not missing, f"docs/errors.md does not describe {missing}"


def test_api_reference_covers_every_public_name() -> None:
    # A new export of `sbmljax` needs an entry: one `::: sbmljax.Name` line in a docs/api/*.md page.
    init = ast.parse((REPO / "sbmljax" / "__init__.py").read_text(encoding="utf-8"))
    exported = {  # the public API is re-exported as `from .x import Name as Name` (STYLE.md)
        alias.name
        for node in ast.walk(init)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname == alias.name and not alias.name.startswith("_")
    }
    reference = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "api").glob("*.md"))
    documented = set(re.findall(r"^::: sbmljax\.(\w+)", reference, flags=re.M))
    assert not exported - documented, (
        f"add `::: sbmljax.NAME` to a page in docs/api/ for {sorted(exported - documented)}"
    )


def test_generated_inputs_are_committed() -> None:
    table = (DOCS / "_generated" / "simulators.md").read_text(encoding="utf-8")
    assert table.startswith("Measured ") and "| direct |" in table and "| nrm |" in table
    assert (DOCS / "_generated" / "sir-ensemble.png").stat().st_size > 10_000


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed (pip install -e '.[docs]')"
)
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    env = _env()
    env["NO_MKDOCS_2_WARNING"] = "1"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(REPO / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    assert "WARNING" not in r.stderr, r.stderr[-6000:]
    html = (tmp_path / "site" / "sbml-support" / "index.html").read_text(encoding="utf-8")
    assert "sbmljax:" not in html and "Rate rules" in html  # the marker was replaced by the matrix
