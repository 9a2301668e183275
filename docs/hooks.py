"""mkdocs hook: fill the pages' generated parts from the code and the committed measurements.

Markers (an HTML comment alone on a line):

- `<!-- sbmljax:support-matrix -->` → the SBML support matrix, rendered from `sbmljax._support`
  (the table the importer takes its refusal messages from), so the page cannot drift from the code;
- `<!-- sbmljax:include PATH -->` → the file `docs/PATH` (e.g. `_generated/simulators.md`, written by
  `benchmarks/docs_tables.py`). A missing file is an error, not an empty section.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
MARKER = re.compile(r"^<!-- sbmljax:(?P<what>[\w-]+)(?: (?P<arg>\S+))? -->$", re.M)


def _support_matrix() -> str:
    if str(REPO) not in sys.path[:1]:
        sys.path.insert(0, str(REPO))  # this checkout's sbmljax, not another installed copy
    import sbmljax._support as support

    if Path(support.__file__).resolve().parents[1] != REPO:
        raise RuntimeError(f"the docs of {REPO} would show the support table of another sbmljax: {support.__file__}")
    return support.render_markdown()


def expand(markdown: str, where: str = "page") -> str:
    """Replace every marker in `markdown`; raise `ValueError` naming `where` for an unknown marker or file."""

    def replace(m: re.Match) -> str:
        what, arg = m["what"], m["arg"]
        if what == "support-matrix" and arg is None:
            return _support_matrix()
        if what == "include" and arg:
            path = (DOCS / arg).resolve()
            if DOCS not in path.parents or not path.is_file():
                raise ValueError(f"{where}: {m[0]} names no file under docs/")
            return path.read_text(encoding="utf-8")
        raise ValueError(f"{where}: unknown marker {m[0]}")

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 (mkdocs hook signature)
    return expand(markdown, page.file.src_path)
