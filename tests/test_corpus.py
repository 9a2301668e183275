"""The curated BioModels corpus: every file is checked, and none fails without saying why.

76 curated BioModels entries (`tests/data/biomodels-corpus/`, drawn at random, plus the four of
`tests/data/biomodels/`; see the INDEX.md files) go through `sbmljax.check_models`, one worker with a time
limit per model, as `benchmarks/corpus_verdicts.py` does. Per file, the verdict must be one a user can act
on: `exact` or `tau_leap_only` with a reason; `refused` naming the SBML construct(s) refused; `error` only
for a file that libSBML itself finds invalid, and then the reason quotes libSBML's message. A crash, a
time-out or an internal error fails the test for that file.

Every row also says what `method="auto"` chooses and how its one-trajectory run went. The verdicts here are
`check`'s (exact methods and tau-leaping), so refusals may name any construct, as long as they name one.
The issue's final criterion (every file simulated by `auto`, or refused only for delays or invalid SBML) is
`tests/test_corpus_auto.py`'s: no file is refused by `auto` (408's delays are constant zeros, which are
no delay; see docs/simulators.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import libsbml
import pytest
from conftest import DATA

import sbmljax
from sbmljax._check_model import VERDICTS

CORPUS = sorted((DATA / "biomodels-corpus").glob("*.xml")) + sorted((DATA / "biomodels").glob("*.xml"))
TIMEOUT = 300.0
"""Seconds per model: generous, so that a slow shared machine does not turn a verdict into a time-out."""

ALLOWED_AFTER_AUTO = ("delay",)
"""What `refused` may still name once `auto` (hybrid) exists: the issue keeps delays refused."""

# Element names that say only that something failed, not which SBML construct: a refusal must do better.
GENERIC_CONSTRUCTS = {"run-time failure", "unsupported construct (see reason)"}

# Bugs this corpus found (internal errors in `check_models`, 2026-11-30), strict: fixing one makes the test
# XPASS-fail, so remove its entry then.
KNOWN_BUGS: dict[str, str] = {
    # id -> what crashes, as a strict xfail; empty since 5888490 fixed BIOMD0000000248 and BIOMD0000000532.
}

# One xdist worker takes the whole module (pyproject's `--dist loadgroup`): the `table` fixture checks all 76 files,
# and under plain load balancing each worker that drew a test from this module would check them all again.
# Its own marker, not `slow`: with auto's one-trajectory run per file (about 40 hybrid compilations of 30-60 s
# each) the check takes over 30 minutes on 2 cores, past what CI's slow run may spend. Run it with `-m corpus`.
pytestmark = [pytest.mark.corpus, pytest.mark.xdist_group("corpus")]


def corpus_param(path: Path):
    if path.stem in KNOWN_BUGS:
        return pytest.param(path, id=path.stem, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[path.stem]))
    return pytest.param(path, id=path.stem)


def test_corpus_is_the_documented_one() -> None:
    assert len(CORPUS) >= 50 + 4
    index = (DATA / "biomodels-corpus" / "INDEX.md").read_text()
    for f in CORPUS:
        if f.parent.name == "biomodels-corpus":
            assert f"| {f.name} |" in index, f"{f.name} is not recorded in INDEX.md"
    assert (DATA / "biomodels-corpus" / "LICENSE-CC0-biomodels-github.txt").is_file()


@pytest.fixture(scope="module")
def table():
    frame = sbmljax.check_models(CORPUS, workers=1, t_end=100.0, timeout=TIMEOUT)
    return frame.set_index(frame["file"].map(os.path.basename))


def libsbml_errors(path: Path) -> list[str]:
    """libSBML's own errors for the file, as `load_sbml` asks for them (read, then consistency with units and
    modelling practice off), without sbmljax: the independent judgement of "invalid SBML"."""
    from sbmljax.sbml._read import TOLERATED

    doc = libsbml.readSBMLFromFile(str(path))
    if doc.getNumErrors(libsbml.LIBSBML_SEV_ERROR) + doc.getNumErrors(libsbml.LIBSBML_SEV_FATAL) == 0:
        doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, False)
        doc.setConsistencyChecks(libsbml.LIBSBML_CAT_MODELING_PRACTICE, False)
        doc.checkConsistency()
    return [
        " ".join(doc.getError(i).getMessage().split())
        for i in range(doc.getNumErrors())
        if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR and doc.getError(i).getErrorId() not in TOLERATED
    ]


@pytest.mark.parametrize("path", [corpus_param(p) for p in CORPUS])
def test_verdict_is_clear(table, path: Path) -> None:
    row = table.loc[path.name]
    assert row.verdict in VERDICTS
    reason = str(row.reason)
    assert reason.strip(), "every verdict carries a reason"
    assert "internal error" not in reason, reason
    if row.verdict == "error":
        errors = libsbml_errors(path)
        assert errors, f"verdict error on a file libSBML accepts: {reason}"
        assert any(e[:60] in reason for e in errors), f"the reason does not quote libSBML: {reason}"
        return
    assert row.loads
    # The method `auto` would use is reported for every model that loads, with how its run went or why not.
    assert row.auto_method in ("direct", "extrande", "hybrid", "refused"), row.auto_method
    assert str(row.auto_run).strip(), "auto_run says whether auto's choice ran"
    if row.verdict == "refused":
        constructs = [c for c in str(row.refused_constructs).split("; ") if c.strip()]
        assert constructs, f"a refusal must name the construct: {reason}"
        assert not GENERIC_CONSTRUCTS.intersection(constructs), reason
        # Until `auto` lands any construct may be refused; afterwards only ALLOWED_AFTER_AUTO (see module doc).
