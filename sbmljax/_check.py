"""`sbmljax check`: scan a model repository and say, per SBML file, what sbmljax can do with it.

For a curator with hundreds of files: one row per file (does it load, how big is it, which simulation can
honour it and why not), computed in parallel worker processes with a time limit per model, never stopping
at a bad file. The verdicts are defined in `_check_model`.
"""

from __future__ import annotations

import argparse
import html
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._check_model import COLUMNS, VERDICTS, CheckSettings
from ._cli import add_substance_units_argument, command
from ._trajectory import atomic_write_text
from .errors import ConfigError
from .sbml._units import check_policy, check_system_size

if TYPE_CHECKING:
    import pandas as pd

SBML_SUFFIXES = (".xml", ".sbml")
MEANING = {
    "exact": "simulable with an exact SSA (method='direct', or 'extrande' for time-dependent propensities)",
    "tau_leap_only": "loads and compiles; exact simulation impractical or refused by an exact-only construct",
    "refused": "uses a construct (or non-count quantities) no sbmljax simulator supports",
    "error": "does not load (not SBML, malformed, inconsistent), timed out, or the check failed",
}


def find_sbml_files(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """Files to check: each file given, and every `*.xml` / `*.sbml` file under each folder (recursively).

    **Arguments:**

    - `paths`: files and folders.

    **Returns:** paths as strings, folders' contents sorted, duplicates removed, in the order given.

    **Raises:** `ConfigError` for a path that does not exist, or when nothing at all is found.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    out: dict[Path, str] = {}
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SBML_SUFFIXES)
            for f in found:
                out.setdefault(f.resolve(), str(f))
        elif p.exists():
            out.setdefault(p.resolve(), str(p))  # named explicitly: checked whatever its extension
        else:
            raise ConfigError(f"{p}: no such file or folder")
    if not out:
        kinds = " or ".join("*" + s for s in SBML_SUFFIXES)
        raise ConfigError(f"no {kinds} files found in {', '.join(map(str, items))}")
    return list(out.values())


def check_models(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    t_end: float | int = 100.0,
    timeout: float | int = 60.0,
    workers: int | None = None,
    max_events: float | int = CheckSettings.max_events,
    confirm_steps: int = CheckSettings.confirm_steps,
    substance_units: str = "auto",
    system_size: float | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Check SBML files for what sbmljax can simulate: one row per file, in parallel, with a time limit each.

    Each model is loaded, checked as `simulate(..., method="direct")` would check it (supported constructs,
    integer initial counts, a mean-field estimate of the reaction events over `[0, t_end]`), and, if it
    passes, run for one trajectory of at most `confirm_steps` steps (with extrande instead of the direct method
    when propensities depend on time). The verdict is one of `exact`, `tau_leap_only`, `refused` or `error`.
    Each row also says which simulator `method="auto"` would choose (`auto_method`) and how a one-trajectory
    run of it went (`auto_run`). Every model runs in a worker process started with `spawn`, on the
    CPU (unless `JAX_PLATFORMS` is set); a script calling this must guard its top level with
    `if __name__ == "__main__":`, as Python's `multiprocessing` requires.

    **Arguments:**

    - `paths`: SBML files and folders (searched recursively for `*.xml` and `*.sbml`).
    - `t_end`: the horizon, in each model's own time unit.
    - `timeout`: seconds allowed per model; a model over it is stopped and gets verdict `error`.
    - `workers`: parallel worker processes (default: `os.cpu_count()`).
    - `max_events`: estimated reaction events per trajectory above which exact simulation counts as
      impractical (`tau_leap_only`); the default lets an ensemble of 100 fit `simulate`'s default budget.
    - `confirm_steps`: step limit of the confirmation run (0: no run).
    - `substance_units`: how amounts become counts, as in `load_sbml` (`auto`, `item` or `mole`).
    - `system_size`: molecules per substance unit for every model, as in `load_sbml` (default: none).
    - `progress`: show a progress bar.

    **Returns:** a `pandas.DataFrame` with columns `file`, `model_id`, `sbml` (e.g. `L2V4`), `species`,
    `reactions`, `time_units`, `loads`, `verdict`, `refused_constructs` (SBML elements, `; `-separated),
    `reason` (one line), `auto_method` (`direct`, `extrande`, `hybrid` or `refused`), `auto_run` (`ran: …`,
    `failed: …`, `not run…`, or `timed out…` when the time limit struck during that run), `max_initial_count` (molecules), `estimated_events` (per trajectory over the
    horizon) and `seconds`.

    **Raises:** `ConfigError` for a bad option or a path that does not exist.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from ._check_pool import run_checks

    if not (math.isfinite(t_end) and t_end > 0):
        raise ConfigError(f"t_end must be a positive number, got {t_end}")
    if not (math.isfinite(timeout) and timeout > 0):
        raise ConfigError(f"timeout must be a positive number of seconds, got {timeout}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    if not (max_events > 0) or confirm_steps < 0:
        raise ConfigError("max_events must be positive and confirm_steps non-negative")
    check_policy(substance_units)
    omega = check_system_size(system_size)
    files = find_sbml_files(paths)
    settings = CheckSettings(float(t_end), float(max_events), int(confirm_steps), substance_units, omega)
    with tqdm(total=len(files), desc="checking", unit="model", disable=not progress) as bar:
        rows = run_checks(files, settings, workers=workers, timeout=float(timeout), on_done=lambda row: bar.update())
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("species", "reactions"):
        frame[col] = frame[col].astype("Int64")
    for col in ("max_initial_count", "estimated_events", "seconds"):
        frame[col] = frame[col].astype(float)
    frame["loads"] = frame["loads"].astype(bool)
    return frame


def write_tsv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the check table as tab-separated values, atomically."""
    atomic_write_text(path, frame.to_csv(sep="\t", index=False))


def summary_html(frame: pd.DataFrame, *, title: str = "sbmljax check", settings: str = "") -> str:
    """A self-contained HTML page: the number of models per verdict, then the table (content escaped)."""
    esc = html.escape
    counts = frame["verdict"].value_counts()
    head = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for col, value in zip(COLUMNS, row):
            cls = f' class="{esc(str(value))}"' if col == "verdict" else ""
            cells.append(f"<td{cls}>{esc(_cell(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    summary = "".join(
        f'<tr><td class="{v}">{v}</td><td class="n">{int(counts.get(v, 0))}</td><td>{esc(MEANING[v])}</td></tr>'
        for v in VERDICTS
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }}
th {{ background: #f0f0f0; position: sticky; top: 0; }}
td.n {{ text-align: right; }}
td.exact {{ background: #d9f2d9; }} td.tau_leap_only {{ background: #fff2cc; }}
td.refused {{ background: #fde0c5; }} td.error {{ background: #f8d0d0; }}
</style></head><body>
<h1>{esc(title)}: {len(frame)} file{"s" if len(frame) != 1 else ""}</h1>
<p>{esc(settings)}</p>
<table><tr><th>verdict</th><th>files</th><th>meaning</th></tr>{summary}</table>
<table><tr>{head}</tr>
{chr(10).join(body)}
</table></body></html>
"""


def _cell(value) -> str:
    import pandas as pd

    if pd.isna(value):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="SBML files, or folders searched for *.xml and *.sbml")
    p.add_argument("--out", required=True, help="table to write (TSV, one row per file)")
    p.add_argument("--html", help="also write a self-contained HTML summary")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per model (default 60)")
    p.add_argument("--workers", type=int, help="parallel worker processes (default: the number of cores)")
    p.add_argument("--t-end", type=float, default=100.0, help="horizon in model time units (default 100)")
    p.add_argument(
        "--max-events",
        type=float,
        default=CheckSettings.max_events,
        help=f"events per trajectory above which exact simulation is impractical "
        f"(default {CheckSettings.max_events:.2g})",
    )
    p.add_argument(
        "--confirm-steps",
        type=int,
        default=CheckSettings.confirm_steps,
        help=f"steps of the one-trajectory confirmation run; 0 skips it (default {CheckSettings.confirm_steps})",
    )
    add_substance_units_argument(p)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")


@command("check", _configure)
def _check(args: argparse.Namespace) -> int:
    """Check SBML files and folders: which models simulate exactly, only by tau-leaping, or not at all."""
    outputs = [Path(o) for o in (args.out, args.html) if o]
    if len({o.resolve() for o in outputs}) < len(outputs):
        raise ConfigError("--out and --html name the same file")
    find_sbml_files(args.paths)  # fail now, not after checking hundreds of models: paths, then outputs
    for o in outputs:
        if o.is_dir():
            raise ConfigError(f"{o}: is a folder")
        existing = next(d for d in o.absolute().parents if d.exists())  # folders to create are made on writing
        if not (existing.is_dir() and os.access(existing, os.W_OK)):
            raise ConfigError(f"{o}: cannot write to {existing}")
    frame = check_models(
        args.paths,
        t_end=args.t_end,
        timeout=args.timeout,
        workers=args.workers,
        max_events=args.max_events,
        confirm_steps=args.confirm_steps,
        substance_units=args.substance_units,
        system_size=args.system_size,
        progress=args.progress,
    )
    write_tsv(frame, args.out)
    if args.html:
        settings = (
            f"horizon t = 0..{args.t_end:g} (model time units); exact budget {args.max_events:.2g} events per "
            f"trajectory; confirmation run up to {args.confirm_steps} steps; {args.timeout:g} s per model; "
            f"substance units: {args.substance_units}"
            + (f"; system size Ω = {args.system_size:g}" if args.system_size is not None else "")
        )
        atomic_write_text(args.html, summary_html(frame, settings=settings))
    counts = frame["verdict"].value_counts()
    chosen = frame["auto_method"].dropna()
    ran = frame["auto_run"].fillna("").str.startswith("ran")
    auto = ", ".join(f"{n} {m}" for m, n in chosen.value_counts().items())
    print(
        f"checked {len(frame)} file(s): "
        + ", ".join(f"{int(counts.get(v, 0))} {v}" for v in VERDICTS)
        + (f"; method 'auto' would choose {auto} ({int(ran.sum())} ran)" if auto else "")
        + f"; wrote {args.out}"
        + (f" and {args.html}" if args.html else "")
    )
    return 0
