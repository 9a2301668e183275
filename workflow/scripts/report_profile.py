"""Rule report_profile: the profile log-likelihood points with their standard errors, the quadratic smoother,
the MCAP cutoff and the 95% interval."""

import json
import logging
import math

import numpy as np
from matplotlib.figure import Figure

from sbmljax.plot import save_figure
from sbmljax.workflow import start_log

sm = snakemake  # noqa: F821
start_log(sm.log[0])
try:
    with open(sm.input.json, encoding="utf-8") as f:
        prof = json.load(f)
    scale = prof["scale"]
    to_scale = {"lin": lambda v: v, "log": np.log, "log10": np.log10}[scale]
    from_scale = {"lin": lambda v: v, "log": np.exp, "log10": lambda v: 10.0**v}[scale]
    x = np.asarray(prof["values"], dtype=float)
    ll, se = np.asarray(prof["loglik"], dtype=float), np.asarray(prof["stderr"], dtype=float)
    a, b, c = prof["smooth"]
    s = np.linspace(to_scale(x.min()), to_scale(x.max()), 200)
    curve = a * s**2 + b * s + c
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    ax.errorbar(x, ll, yerr=2 * se, fmt="o", color="C0", label="maximised log-likelihood ± 2 SE")
    ax.plot(from_scale(s), curve, color="C1", label="quadratic smoother (MCAP)")
    if math.isfinite(prof["mle"]):
        m = to_scale(prof["mle"])
        top = a * m**2 + b * m + c
        ax.axhline(top - prof["cutoff"], color="grey", ls="--", label=f"cutoff {prof['cutoff']:.2f} below the maximum")
        lo, hi = prof["interval"]
        span = (max(lo, x.min()), min(hi, x.max()))
        ax.axvspan(*span, color="C1", alpha=0.15, label=f"95% interval [{lo:.3g}, {hi:.3g}]")
    else:
        ax.set_title(prof["note"][:80], fontsize="small")
    if scale != "lin":
        ax.set_xscale("log")
    ax.set_xlabel(prof["parameter"])
    ax.set_ylabel("profile log-likelihood")
    ax.legend(fontsize="small")
    save_figure(fig, sm.output.figure)
except Exception:
    logging.exception("report_profile failed")
    raise
