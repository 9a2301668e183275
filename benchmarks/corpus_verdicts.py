"""Verdict table of `sbmljax.check_models` over the curated BioModels corpus, refusals grouped by construct.

Runs every SBML file of `tests/data/biomodels-corpus/` (and the four of `tests/data/biomodels/`) through
`check_models` with one worker process and a time limit per model, prints how many files got each verdict
(`exact`, `tau_leap_only`, `refused`, `error`) and, for every verdict but `exact`, the constructs behind it
with the files they affect, and writes the per-file table as TSV (plus the grouped counts as a second TSV).
This is issue 13's coverage table: run it before and after a change to what the simulators accept.

    python benchmarks/corpus_verdicts.py                               # writes benchmarks/out/corpus_verdicts.tsv
    python benchmarks/corpus_verdicts.py --from benchmarks/out/corpus_verdicts.tsv   # regroup a saved run
    python benchmarks/corpus_verdicts.py --auto     # what method="auto" does: benchmarks/out/corpus_auto.tsv

`--auto` asks, per file, what `simulate(..., method="auto")` does: `prepare` chooses `direct` or `hybrid` or
refuses (no trajectory is run unless `--run`, which simulates one trajectory to `--t-end` under the time
limit). A file refused for initial values that are not molecule counts is loaded again with a system size
(`SYSTEM_SIZE_RULE`), and the row says which Ω it took.

A construct is the element named in `refused_constructs` with its SBML ids replaced by `…` (e.g.
`rate rule for '…'`), so eleven rate rules in one model count once for that model; a row without a named
element is grouped by the first clause of its reason.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = (REPO / "tests/data/biomodels-corpus", REPO / "tests/data/biomodels")
OUT = REPO / "benchmarks/out/corpus_verdicts.tsv"
OUT_AUTO = REPO / "benchmarks/out/corpus_auto.tsv"
VERDICTS = ("exact", "tau_leap_only", "refused", "error")

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(\.\d+)?([eE][-+]?\d+)?(?![\w.])")
_ID_LIST = re.compile(r"'…'(, '…')*( and N more| and '…')?")
_PARENS = re.compile(r"\s\((?:[^()]|\([^()]*\))*\)")  # " (…)" with one level of nesting; "reaction(s)" stays


def blank(text: str) -> str:
    """Text with SBML ids and numbers blanked (`'…'`, `N`), lists of ids collapsed to one."""
    return _ID_LIST.sub("'…'", _NUMBER.sub("N", _QUOTED.sub("'…'", text.strip())))


def kind_of(element: str) -> str:
    """The kind of a refused element: `rateRule 'u'` -> `rateRule`, `reaction 'r' product 's'` -> `reaction
    reactant/product`, `initial values of species 'a', 'b'` -> `initial values of species`."""
    kind = re.sub(r"\s*'…'", "", blank(element))
    return re.sub(r"^reaction (reactant|product)$", "reaction reactant/product", kind)


def reason_class(reason: str) -> str:
    """What a reason says, without ids, numbers, parenthesised details, horizon or advice: its first clause."""
    reason = reason.strip()
    if reason.startswith("internal error"):  # the exception type is the useful part
        m = re.search(r"\((\w+):", reason)
        return f"internal error in sbmljax ({m.group(1) if m else '?'})"
    head = re.split(r"; |\. |: ", reason, maxsplit=1)[0]
    head = re.sub(r" over t=.*", " over the horizon, above the exact budget", head)
    return _PARENS.sub(" (…)", blank(head)).rstrip(" .")[:120] or "(no reason given)"


def element_reasons(path: str) -> dict[str, list[str]]:
    """Element -> reasons for every construct the model's importer flagged (empty if the file does not load)."""
    from sbmljax import load_sbml

    try:
        model = load_sbml(path)
    except Exception:
        return {}
    out: dict[str, list[str]] = defaultdict(list)
    for u in model.unsupported:
        out[u.element].append(u.reason)
    return dict(out)


def row_constructs(row) -> list[tuple[str, str | None]]:
    """`(kind, what its reason says or None)` for every element a row names, or `(reason class, None)` for a
    row that names none. An element's reason comes from the importer's findings, or from the row's reason
    for the element it names first; the check lists further elements without their reasons."""
    reason = str(row["reason"] or "")
    named = [e for e in str(row["refused_constructs"] or "").split("; ") if e.strip() and e != "nan"]
    if not named:
        return [(reason_class(reason), None)]
    known = element_reasons(str(row["file"])) if row["loads"] in (True, "True") else {}
    if reason.startswith(named[0] + ": "):
        known.setdefault(named[0], [reason[len(named[0]) + 2 :]])
    return [(kind_of(e), reason_class(r)) for e in named for r in known.get(e, [])] + [
        (kind_of(e), None) for e in named if e not in known
    ]


def grouped(frame) -> list[tuple[str, str, int, list[str]]]:
    """`(verdict, construct, number of files, files)` for every verdict but `exact`, largest groups first.

    A construct is `kind: what the reason says`; an element whose own reason the table does not hold takes
    the reason most often seen for its kind (e.g. every `rateRule` is refused for the same reason)."""
    rows = [(row, row_constructs(row)) for _, row in frame.iterrows() if row["verdict"] != "exact"]
    seen: dict[str, Counter] = defaultdict(Counter)
    for _, pairs in rows:
        for kind, why in pairs:
            if why:
                seen[kind][why] += 1
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row, pairs in rows:
        labels = []
        for kind, why in pairs:
            why = why or (seen[kind].most_common(1)[0][0] if seen[kind] else None)
            labels.append(f"{kind}: {why}" if why else kind)
        for label in dict.fromkeys(labels):
            groups[(row["verdict"], label)].append(Path(str(row["file"])).stem)
    order = {v: i for i, v in enumerate(VERDICTS)}
    out = [(v, c, len(files), sorted(files)) for (v, c), files in groups.items()]
    return sorted(out, key=lambda r: (order[r[0]], -r[2], r[1]))


SYSTEM_SIZE_RULE = (
    "Ω = 10^ceil(log10(100 / v)) for v the smallest positive initial value: every species present at the start "
    "has at least 100 molecules"
)


def needs_system_size(error: Exception) -> bool:
    """Whether a refusal is one a system size answers: initial values that are not molecule counts, or a
    message that itself asks for `system_size=Ω` (a species in a mass unit)."""
    from sbmljax.errors import InitialStateError

    return isinstance(error, InitialStateError) or "initial" in str(error) or "system_size=" in str(error)


def system_size_for(path: str) -> float | None:
    """The system size `SYSTEM_SIZE_RULE` gives the file (None if no positive initial value)."""
    import jax
    import numpy as np

    from sbmljax import load_sbml
    from sbmljax._compile._network import compile_network
    from sbmljax._simulator.hybrid import HybridSimulator

    model = load_sbml(path)
    with jax.enable_x64(True):
        # The model's numbers as written (a mass unit's too), compiled as auto's last resort, the hybrid method,
        # would: the rule reads their smallest positive value.
        net = compile_network(model, exact=False, accepts=HybridSimulator.accepts | {"mass_units"})
        x0 = np.asarray(net.initial_state(net.p_default, 0.0)[0], dtype=np.float64)
    positive = x0[np.isfinite(x0) & (x0 > 0)]
    if not positive.size:
        return None
    return float(10.0 ** max(0, math.ceil(math.log10(100.0 / float(positive.min())))))


def auto_row(path: str, t_end: float, run: bool) -> dict:
    """What `method="auto"` does with one file: `direct`, `hybrid`, `refused` (with the reason) or `error`."""
    import jax
    import numpy as np

    from sbmljax import load_sbml, simulate
    from sbmljax._ensemble import prepare
    from sbmljax.errors import InitialStateError, SbmlJaxError, UnsupportedSBMLFeatureError

    row = {"file": path, "auto": "", "system_size": "", "ran": "", "reason": ""}
    try:
        model = load_sbml(path)
    except Exception as e:
        return {**row, "auto": "error", "reason": " ".join(str(e).split())[:300]}
    t = np.array([0.0, t_end])

    def attempt(model):
        with jax.enable_x64(True):
            return prepare(model, t, method="auto", n_trajectories=1)

    try:
        try:
            prep = attempt(model)
        except (InitialStateError, UnsupportedSBMLFeatureError) as e:
            if not needs_system_size(e):
                raise
            omega = system_size_for(path)
            if omega is None:
                raise
            row["system_size"] = f"{omega:g}"
            model = load_sbml(path, system_size=omega)
            prep = attempt(model)
        row.update(auto=prep.sim.name, reason=prep.notes[0])
        if run:
            start = time.perf_counter()
            simulate(model, t, n_trajectories=1, seed=0, method="auto")
            row["ran"] = f"yes ({time.perf_counter() - start:.0f} s with compilation)"
    except SbmlJaxError as e:
        row.update(auto=row["auto"] or "refused", reason=" ".join(str(e).split())[:300])
        if row["auto"] != "refused":
            row["ran"] = "failed"
    except Exception as e:
        row.update(auto="error", reason=f"internal error ({type(e).__name__}: {' '.join(str(e).split())[:200]})")
    return row


def refusal_group(reason: str) -> str:
    """A refusal reason's class for the `--auto` table (ids and numbers blanked, first clause)."""
    text = reason.split(".xml: ", 1)[-1]  # without the file's path
    head = re.split(r"; |\. ", text, maxsplit=1)[0]
    return _PARENS.sub(" (…)", blank(head)).rstrip(" .")[:110]


def auto_table(paths: list[Path], t_end: float, run: bool, timeout: float) -> list[dict]:
    """`auto_row` for every SBML file under `paths`, each under a time limit (SIGALRM)."""
    import signal

    files = sorted(f for p in paths for f in (p.glob("*.xml") if p.is_dir() else [p]))

    def alarm(signum, frame):
        raise TimeoutError

    signal.signal(signal.SIGALRM, alarm)
    rows = []
    for f in files:
        signal.alarm(int(timeout))
        try:
            row = auto_row(str(f), t_end, run)
        except TimeoutError:
            row = {"file": str(f), "auto": "timeout", "system_size": "", "ran": "", "reason": f">{timeout:g} s"}
        finally:
            signal.alarm(0)
        print(
            f"{Path(row['file']).stem:<22} {row['auto']:<8} {row['system_size']:>8} {row['ran']:<8} "
            f"{row['reason'][:110]}",
            file=sys.stderr,
            flush=True,
        )
        rows.append(row)
    return rows


def report(frame, groups) -> str:
    """The printed table: counts per verdict, then the grouped constructs with their files."""
    counts = frame["verdict"].value_counts()
    lines = [f"{len(frame)} files: " + ", ".join(f"{int(counts.get(v, 0))} {v}" for v in VERDICTS), ""]
    lines.append(f"{'verdict':<14} {'files':>5}  construct (files)")
    for verdict, construct, n, files in groups:
        shown = ", ".join(f.replace("BIOMD0000000", "") for f in files)
        lines.append(f"{verdict:<14} {n:>5}  {construct}  [{shown}]")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", type=Path, default=list(CORPUS), help="SBML files or folders")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"per-file TSV (default {OUT.relative_to(REPO)}; with --auto {OUT_AUTO.relative_to(REPO)})",
    )
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per model (default 120)")
    ap.add_argument("--t-end", type=float, default=100.0, help="horizon in each model's time units (default 100)")
    ap.add_argument("--from", dest="saved", type=Path, help="regroup a TSV written by an earlier run; check nothing")
    ap.add_argument("--auto", action="store_true", help="what method='auto' does with each file (see the module doc)")
    ap.add_argument("--run", action="store_true", help="with --auto: also simulate one trajectory per file")
    args = ap.parse_args()

    import pandas as pd

    import sbmljax

    if args.auto:
        frame = pd.DataFrame(auto_table(args.paths, args.t_end, args.run, args.timeout))
        out = args.out or OUT_AUTO
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out, sep="\t", index=False)
        counts = frame["auto"].value_counts()
        print(f"{len(frame)} files, method='auto': " + ", ".join(f"{int(n)} {v}" for v, n in counts.items()))
        print(f"system size ({SYSTEM_SIZE_RULE}) taken by {int((frame['system_size'] != '').sum())} files")
        refused = frame[frame["auto"].isin(["refused", "error", "timeout"])]
        for (verdict, group), files in refused.groupby([refused["auto"], refused["reason"].map(refusal_group)])["file"]:
            shown = ", ".join(Path(f).stem.replace("BIOMD0000000", "") for f in files)
            print(f"{verdict:<8} {len(files):>3}  {group}  [{shown}]")
        print("wrote", out, file=sys.stderr)
        return

    args.out = args.out or OUT
    if args.saved:
        frame = pd.read_csv(args.saved, sep="\t", keep_default_na=False)
    else:
        start = time.perf_counter()
        frame = sbmljax.check_models(args.paths, t_end=args.t_end, timeout=args.timeout, workers=1, progress=True)
        print(f"checked in {time.perf_counter() - start:.0f} s (one worker)", file=sys.stderr)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(args.out, sep="\t", index=False)
        print("wrote", args.out, file=sys.stderr)
    groups = grouped(frame)
    print(report(frame, groups))
    if not args.saved:
        summary = args.out.with_suffix(".groups.tsv")
        pd.DataFrame(
            [(v, c, n, " ".join(f)) for v, c, n, f in groups], columns=["verdict", "construct", "files", "models"]
        ).to_csv(summary, sep="\t", index=False)
        print("wrote", summary, file=sys.stderr)


if __name__ == "__main__":
    main()
