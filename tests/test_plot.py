"""`sbmljax.plot`: every figure renders to a real file, with the panels and artists it promises."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

import sbmljax
from sbmljax.errors import ConfigError, DataError
from sbmljax.plot import (
    plot_ensemble,
    plot_gradient_diagnostics,
    plot_loss_history,
    plot_parameter_traces,
    save_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
T = np.linspace(0.0, 30.0, 16)


@pytest.fixture(scope="module")
def bd():
    model = sbmljax.load_sbml(REPO / "models" / "birth_death.xml")
    return model, sbmljax.simulate(model, T, n_trajectories=20, seed=3)


@pytest.fixture(scope="module")
def sir():
    model = sbmljax.load_sbml(REPO / "models" / "sir.xml")
    return model, sbmljax.simulate(model, np.linspace(0, 100, 11), n_trajectories=8, seed=0)


def is_png(path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


def test_ensemble_with_ode_and_data(tmp_path, bd) -> None:
    model, traj = bd
    k1, k2 = 10.0, 0.1
    ode = (T, (k1 / k2 * (1 - np.exp(-k2 * T)))[:, None], ("X",))
    data = pd.DataFrame({"time": T[::3], "X": traj.counts[0, ::3, 0]})
    data.loc[1, "X"] = np.nan  # unobserved points are dropped, not drawn
    fig = plot_ensemble(traj, model=model, ode=ode, data=data, sample_paths=3)
    (ax,) = fig.axes
    assert len(ax.lines) == 3 + 1 + 1 + 1  # sample paths, mean, ODE, data
    assert len(ax.collections) == 2  # SD band, quantile band
    assert len(ax.lines[-1].get_xdata()) == len(data) - 1
    assert ax.get_xlabel() == "time (second)" and ax.get_ylabel() == "X (molecules)"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["sample paths", "5%–95% quantiles", "mean ± SD", "mean", "ODE", "data"]
    save_figure(fig, tmp_path / "bd.png")
    assert is_png(tmp_path / "bd.png")


def test_ensemble_one_axes_per_species_and_options(tmp_path, sir) -> None:
    model, traj = sir
    fig = plot_ensemble(traj, model=model, sample_paths=2)
    assert len(fig.axes) == 3
    assert [a.get_ylabel() for a in fig.axes] == ["S (molecules)", "I (molecules)", "R (molecules)"]
    for a in fig.axes:
        assert len(a.lines) == 3 and len(a.collections) == 2

    # ODE given as an object, for a subset of species; only the quantile band; data as a mapping.
    class Ode:
        times = np.linspace(0, 100, 5)
        values = np.ones((5, 2))
        species = ("I", "S")

    fig = plot_ensemble(
        traj,
        species=["S", "I"],
        ode=Ode(),
        data={"I": ([10, 20], [5, 7])},
        bands=("quantile",),
        sample_paths=0,
        title="custom",
    )
    assert len(fig.axes) == 2 and fig.get_suptitle() == "custom"
    assert [len(a.lines) for a in fig.axes] == [2, 3]  # S: mean + ODE; I: mean + ODE + data
    assert [len(a.collections) for a in fig.axes] == [1, 1]
    save_figure(fig, tmp_path / "sir.png")
    assert is_png(tmp_path / "sir.png")


def test_ensemble_single_trajectory_and_given_axes(tmp_path, bd) -> None:
    from matplotlib.figure import Figure

    _, traj = bd
    one = sbmljax.Trajectories(traj.times, traj.counts[:1], traj.species, traj.method, traj.seed)
    fig = plot_ensemble(one)
    assert len(fig.axes[0].collections) == 0  # one path has no spread to draw
    assert fig.axes[0].get_xlabel() == "time"
    host = Figure()
    ax = host.add_subplot()
    assert plot_ensemble(traj, ax=ax, title="mine") is host
    assert ax.get_title() == "mine" and ax.get_legend() is not None


def test_ensemble_rejects_bad_options(sir) -> None:
    _, traj = sir
    with pytest.raises(ConfigError, match="cannot plot species"):
        plot_ensemble(traj, species=["Q"])
    with pytest.raises(ConfigError, match="unknown band"):
        plot_ensemble(traj, bands=("iqr",))
    with pytest.raises(ConfigError, match="quantiles"):
        plot_ensemble(traj, quantiles=(0.9, 0.1))
    with pytest.raises(ConfigError, match="one species"):
        from matplotlib.figure import Figure

        plot_ensemble(traj, ax=Figure().add_subplot())
    with pytest.raises(DataError, match="time"):
        plot_ensemble(traj, data=pd.DataFrame({"t": [1.0], "S": [2.0]}))
    with pytest.raises(DataError, match="shape"):
        plot_ensemble(traj, ode=(np.arange(3.0), np.ones((3, 2)), ("S",)))


def test_loss_history(tmp_path) -> None:
    loss = 50 * np.exp(-np.arange(40) / 10) + 1
    fig = plot_loss_history(loss)
    (ax,) = fig.axes
    assert len(ax.lines) == 1 and len(ax.collections) == 0 and ax.get_yscale() == "log"
    fig = plot_loss_history({"loss": loss, "loss_stderr": 0.2 * loss}, log=False)
    (ax,) = fig.axes
    assert len(ax.lines) == 1 and len(ax.collections) == 1 and ax.get_yscale() == "linear"
    save_figure(fig, tmp_path / "loss.png")
    assert is_png(tmp_path / "loss.png")
    with pytest.raises(DataError, match="non-positive"):
        plot_loss_history([1.0, -0.5])
    with pytest.raises(DataError, match="empty"):
        plot_loss_history([])


def test_parameter_traces(tmp_path) -> None:
    traces = {"k1": np.linspace(5, 10, 30), "k2": np.linspace(0.3, 0.1, 30), "k3": np.ones(30)}
    fig = plot_parameter_traces(traces, true_values={"k1": 10.0, "k2": 0.1}, ode_values={"k1": 9.5})
    assert len(fig.axes) == 3
    assert [len(a.lines) for a in fig.axes] == [3, 2, 1]
    assert [a.get_title() for a in fig.axes] == ["k1", "k2", "k3"]
    save_figure(fig, tmp_path / "traces.png")
    assert is_png(tmp_path / "traces.png")


def test_gradient_diagnostics(tmp_path) -> None:
    table = pd.DataFrame(
        {
            "estimator": ["score", "pathwise", "score", "pathwise"],
            "parameter": ["k1", "k1", "k2", "k2"],
            "grad": [1.2, 1.0, -40.0, -35.0],
            "stderr": [0.3, 0.05, 8.0, 1.0],
            "reference": [1.05, 1.05, -37.0, -37.0],
        }
    )
    fig = plot_gradient_diagnostics(table)
    assert len(fig.axes) == 2
    for a in fig.axes:
        assert len(a.patches) == 2  # one bar per estimator
        assert sum(1 for line in a.lines if line.get_marker() == "D") == 2  # reference markers
        assert [t.get_text() for t in a.get_xticklabels()] == ["score", "pathwise"]
    save_figure(fig, tmp_path / "grad.png")
    assert is_png(tmp_path / "grad.png")
    fig = plot_gradient_diagnostics(table.drop(columns="reference"))
    assert all(not any(line.get_marker() == "D" for line in a.lines) for a in fig.axes)
    with pytest.raises(DataError, match="stderr"):
        plot_gradient_diagnostics(table.drop(columns="stderr"))


@pytest.mark.parametrize("suffix,magic", [(".pdf", b"%PDF"), (".svg", b"<?xml")])
def test_save_figure_formats(tmp_path, suffix, magic) -> None:
    path = tmp_path / "sub" / f"loss{suffix}"
    save_figure(plot_loss_history([3.0, 2.0, 1.0]), path)
    assert path.read_bytes()[: len(magic)] == magic


def test_save_figure_is_atomic_and_checks_the_format(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"\.png, \.pdf or \.svg"):
        save_figure(plot_loss_history([1.0]), tmp_path / "loss.jpeg")
    fig = plot_loss_history([1.0])

    def broken(f, **kw):
        f.write(b"partial")
        raise OSError("disk full")

    fig.savefig = broken
    with pytest.raises(OSError, match="disk full"):
        save_figure(fig, tmp_path / "loss.png")
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temporary file


def test_cli_simulate_writes_plot(tmp_path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    out, png = tmp_path / "bd.csv", tmp_path / "bd.png"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "sbmljax",
            "simulate",
            str(REPO / "models" / "birth_death.xml"),
            "--n",
            "10",
            "--t-end",
            "20",
            "--points",
            "11",
            "--seed",
            "0",
            "--out",
            str(out),
            "--plot",
            str(png),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert out.is_file() and is_png(png)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "sbmljax",
            "simulate",
            str(REPO / "models" / "birth_death.xml"),
            "--n",
            "2",
            "--t-end",
            "5",
            "--seed",
            "0",
            "--out",
            str(tmp_path / "x.csv"),
            "--plot",
            str(tmp_path / "x.jpeg"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 1 and r.stderr.startswith("sbmljax: error: ") and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "x.jpeg").exists() and not (tmp_path / "x.csv").exists()  # refused before simulating
