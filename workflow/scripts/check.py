"""Rule check: `sbmljax check` over the configured files and folders (the public CLI, in the same interpreter),
writing the per-file TSV and the HTML summary."""

import logging
import subprocess
import sys

from sbmljax.workflow import start_log

sm = snakemake  # noqa: F821
start_log(sm.log[0])
cmd = [
    sys.executable,
    "-m",
    "sbmljax",
    "check",
    *sm.input.paths,
    "--out",
    sm.output.tsv,
    "--html",
    sm.output.html,
    "--t-end",
    str(sm.params.t_end),
    "--timeout",
    str(sm.params.timeout),
    "--workers",
    str(sm.threads),
    "--no-progress",
]
logging.info("running %s", " ".join(cmd))
proc = subprocess.run(cmd, capture_output=True, text=True)
for stream in (proc.stdout, proc.stderr):
    for line in stream.splitlines():
        logging.info("%s", line)
if proc.returncode != 0:
    logging.error("sbmljax check exited with status %d", proc.returncode)
    sys.exit(proc.returncode)
