"""The example scripts run end to end (their own checks included)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_sir_gradient_example_reduces_the_expected_loss() -> None:
    r = subprocess.run(
        [sys.executable, str(REPO / "examples" / "sir_gradient.py"), "--quick"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "grad = {'c1': 0.0, 'c2': 0.0}" in r.stdout  # the naive pathwise derivative
    assert "fresh seeds: E[loss] before" in r.stdout
