"""`sbmljax.workflow`: the workflow's configuration and dataset-sheet checks, and the streamed merge of
seed-chunks, tested without Snakemake (tests/test_workflow.py runs the workflow itself)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import sbmljax
from sbmljax.errors import ConfigError, DataError
from sbmljax.workflow import check_config, ensemble_head, merge_chunks, read_dataset_sheet, schema_errors

REPO = Path(__file__).resolve().parents[1]
CONFIG_SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SHEET_SCHEMA = REPO / "workflow" / "schemas" / "datasets.schema.yaml"
BOARDING = REPO / "data" / "boarding_school" / "problem.yaml"
BD = str(REPO / "models" / "birth_death.xml")


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in an empty folder: the workflow's user paths are relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "datasets.tsv").write_text("dataset\tkind\tmodel\n")
    return tmp_path


def test_check_config_fills_defaults_without_modifying_its_input(in_tmp):
    config = {"models": {"bd": {"sbml": BD, "t_end": 5}}, "simulate": {"tau_leap": {"step": "fixed"}}}
    checked = check_config(config, CONFIG_SCHEMA)
    assert config == {"models": {"bd": {"sbml": BD, "t_end": 5}}, "simulate": {"tau_leap": {"step": "fixed"}}}
    assert checked["models"]["bd"] == {
        "sbml": BD,
        "t_end": 5,
        "points": 101,
        "substance_units": "auto",
        "n_trajectories": 1000,
    }
    assert checked["simulate"]["tau_leap"] == {"step": "fixed", "epsilon": 0.03, "tau": 0.1}
    assert checked["fit"]["estimator"] == "score" and checked["datasets"] == "datasets.tsv"


def test_check_config_names_every_bad_key(in_tmp):
    config = {"models": {"bd": {"sbml": BD}}, "simulate": {"seed": -1, "chunk": 2}}
    with pytest.raises(ConfigError) as e:
        check_config(config, CONFIG_SCHEMA)
    assert str(e.value).splitlines() == [
        "invalid configuration:",
        "config.yaml: models.bd.t_end: missing (required)",
        "config.yaml: simulate: Additional properties are not allowed ('chunk' was unexpected)",
        "config.yaml: simulate.seed: -1 is less than the minimum of 0",
    ]


def test_methods_list_takes_auto_and_every_simulator(in_tmp):
    methods = ["direct", "nrm", "tau_leap", "extrande", "hybrid", "auto"]
    config = {"models": {"bd": {"sbml": BD, "t_end": 1}}, "simulate": {"methods": methods}}
    assert check_config(config, CONFIG_SCHEMA)["simulate"]["methods"] == methods
    with pytest.raises(ConfigError, match="'gillespie' is not one of"):
        check_config({**config, "simulate": {"methods": ["gillespie"]}}, CONFIG_SCHEMA)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"models": {"bd": {"sbml": "no.xml", "t_end": 1}}}, "config.yaml: models.bd.sbml: no such file 'no.xml'"),
        ({"simulate": {"chunks": 3, "n_trajectories": 2}}, "simulate.chunks (3) exceeds models.bd.n_trajectories (2)"),
        ({"report": {"quantiles": [0.9, 0.1]}}, "report.quantiles must be increasing"),
        ({"check": {"paths": ["nowhere"]}}, "check.paths: no such file or folder 'nowhere'"),
        ({"datasets": "other.tsv"}, "config.yaml: datasets: no such file 'other.tsv'"),
    ],
)
def test_check_config_checks_what_the_schema_cannot(in_tmp, change, message):
    with pytest.raises(ConfigError, match=None) as e:
        check_config({"models": {"bd": {"sbml": BD, "t_end": 1}}, **change}, CONFIG_SCHEMA)
    assert message in str(e.value)


def test_schema_errors_name_sheet_columns():
    row = {"dataset": "x", "kind": "petab", "model": "p.yaml", "noise_sd": 2.0}
    assert schema_errors(row, SHEET_SCHEMA, "s.tsv: row 0 (dataset 'x')", column=True) == [
        "s.tsv: row 0 (dataset 'x'): noise_sd must be empty for kind 'petab'"
    ]


def write_sheet(folder: Path, *rows: str) -> Path:
    path = folder / "datasets.tsv"
    text = "# a comment\ndataset\tkind\tmodel\tdata\tfree_parameters\tnoise_sd\tloss\n"
    path.write_text(text + "".join(r + "\n" for r in rows))
    return path


def models():
    return {"bd": {"sbml": BD, "substance_units": "auto"}}


def test_sheet_to_specs(in_tmp):
    (in_tmp / "a.csv").write_text("time,X\n1,3\n")
    (in_tmp / "b.csv").write_text("time,X\n1,4\n")
    sheet = write_sheet(
        in_tmp,
        f"flu\tpetab\t{BOARDING}\t\tbeta=1.5\t\tgaussian_nll",
        "bd_csv\tcsv\tbd\ta.csv; b.csv\tk1;k2=0.2\t5\t",
    )
    specs = read_dataset_sheet("datasets.tsv", SHEET_SCHEMA, models())
    assert list(specs) == ["flu", "bd_csv"]
    flu, bd = specs["flu"], specs["bd_csv"]
    assert flu["kind"] == "petab" and flu["problem"] == str(BOARDING) and flu["loss"] == "gaussian_nll"
    assert flu["free_parameters"] == {"beta": 1.5} and flu["noise_sd"] is None and flu["data"] == []
    assert flu["inputs"][0] == str(BOARDING) and len(flu["inputs"]) == 6
    assert all(os.path.isfile(p) for p in flu["inputs"])
    assert bd == {
        "dataset": "bd_csv",
        "kind": "csv",
        "problem": None,
        "model_id": "bd",
        "sbml": BD,
        "substance_units": "auto",
        "data": ["a.csv", "b.csv"],
        "free_parameters": {"k1": None, "k2": 0.2},
        "noise_sd": 5.0,
        "loss": None,
        "inputs": [BD, "a.csv", "b.csv"],
    }
    assert sheet.is_file()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x\tcsv\tnope\ta.csv\tk1\t\t", "row 0 (dataset 'x'), column model: 'nope' is not a model in config.yaml"),
        ("x\tcsv\tbd\ta.csv\tk1=fast\t\t", "column free_parameters: start of 'k1' is not a number: 'fast'"),
        ("x\tcsv\tbd\ta.csv\t1k\t\t", "column free_parameters: '1k' is not `id` or `id=start`"),
        ("x\tcsv\tbd\ta.csv\tk1\tloud\t", "row 0 (dataset 'x'), column noise_sd: 'loud' is not a number"),
        ("x\tcsv\tbd\tmissing.csv\tk1\t\t", "column data: no such file 'missing.csv'"),
        ("x\tpetab\tnone.yaml\t\t\t\t", "column model: no such PEtab problem file 'none.yaml'"),
        (f"x\tpetab\t{BOARDING}\t\tbeta\t\t", "a PEtab problem takes start values only"),
        ("x\tcsv\tbd\ta.csv\t\t\t", "row 0 (dataset 'x'), column free_parameters: missing (required for kind 'csv')"),
    ],
)
def test_sheet_errors_name_row_and_column(in_tmp, row, message):
    (in_tmp / "a.csv").write_text("time,X\n1,3\n")
    write_sheet(in_tmp, row)
    with pytest.raises(ConfigError) as e:
        read_dataset_sheet("datasets.tsv", SHEET_SCHEMA, models())
    assert message in str(e.value)


def test_sheet_repeated_id(in_tmp):
    (in_tmp / "a.csv").write_text("time,X\n1,3\n")
    write_sheet(in_tmp, "x\tcsv\tbd\ta.csv\tk1\t\t", "x\tcsv\tbd\ta.csv\tk2\t\t")
    with pytest.raises(ConfigError, match=r"row 1 \(dataset 'x'\): dataset id repeats"):
        read_dataset_sheet("datasets.tsv", SHEET_SCHEMA, models())


def test_bundled_configurations_are_valid(monkeypatch):
    for folder in (REPO, REPO / ".test"):
        monkeypatch.chdir(folder)
        config = check_config(yaml.safe_load((folder / "config.yaml").read_text()), CONFIG_SCHEMA)
        specs = read_dataset_sheet(config["datasets"], SHEET_SCHEMA, config["models"])
        assert "boarding_school" in specs


# ---------------------------------------------------------------- streamed merge of seed-chunks


def chunks_of(traj: sbmljax.Trajectories, bounds: list[int], folder: Path) -> list[Path]:
    paths = []
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        part = dataclasses.replace(
            traj,
            counts=traj.counts[a:b],
            n_events=traj.n_events[a:b],
            status=None if traj.status is None else traj.status[a:b],
            first_trajectory=a,
        )
        paths.append(folder / f"chunk{i}.npz")
        part.to_npz(paths[-1])
    return paths[::-1]  # any order


def synthetic(n: int, times: int, species: int, seed: int, *, integer: bool = True) -> sbmljax.Trajectories:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rng.uniform(0.5, 300.0, size=(times, species)), size=(n, times, species)).astype(float)
    if not integer:
        counts = counts + rng.uniform(size=counts.shape)
    return sbmljax.Trajectories(
        times=np.linspace(0.0, 5.0, times),
        counts=counts,
        species=tuple(f"S{i}" for i in range(species)),
        method="direct",
        seed=seed,
        model_id="m",
        n_events=rng.integers(0, 100, size=n),
        status=np.asarray(["successful"] * n, dtype=object),
    )


def test_streamed_merge_equals_the_in_memory_merge(tmp_path):
    """Statistics, sample paths and the ensemble file, bitwise, on a simulated ensemble in uneven chunks."""
    model = sbmljax.load_sbml(BD)
    traj = sbmljax.simulate(model, np.linspace(0.0, 20.0, 11), n_trajectories=37, seed=5)
    qs = (0.05, 0.25, 0.5, 0.75, 0.95)
    paths = chunks_of(traj, [0, 5, 6, 20, 37], tmp_path)
    merged = merge_chunks(paths, quantiles=qs, sample_paths=7, ensemble=tmp_path / "ensemble.npz")
    whole = sbmljax.Trajectories.concatenate([sbmljax.Trajectories.from_npz(p) for p in paths])
    assert merged.exact_quantiles
    pd.testing.assert_frame_equal(merged.summary_dataframe(), whole.summary_dataframe(quantiles=qs), check_exact=True)
    np.testing.assert_array_equal(merged.samples.counts, whole.counts[:7])
    back = sbmljax.Trajectories.from_npz(tmp_path / "ensemble.npz")
    for field in ("counts", "n_events", "status", "times"):
        np.testing.assert_array_equal(getattr(back, field), getattr(whole, field))
    assert (back.species, back.method, back.seed, back.first_trajectory) == (whole.species, "direct", 5, 0)
    head = ensemble_head(tmp_path / "ensemble.npz", 4)
    np.testing.assert_array_equal(head.counts, whole.counts[:4])
    assert (head.species, head.method, head.model_id, head.time_units) == (
        whole.species,
        whole.method,
        whole.model_id,
        whole.time_units,
    )
    assert ensemble_head(tmp_path / "ensemble.npz", 100).n_trajectories == 37


def test_ensemble_figure_from_statistics_equals_the_one_from_the_ensemble(tmp_path):
    """report_model draws from the merge's statistics and the first paths: the same figure, pixel for pixel."""
    from sbmljax.plot import plot_ensemble, save_figure

    traj = synthetic(50, 6, 2, seed=6)
    merged = merge_chunks(chunks_of(traj, [0, 20, 50], tmp_path), ensemble=tmp_path / "e.npz")
    head = ensemble_head(tmp_path / "e.npz", 3)
    stats = pd.read_csv(tmp_io(merged.summary_dataframe(), tmp_path / "stats.csv"))
    save_figure(plot_ensemble(traj, sample_paths=3, title="t"), tmp_path / "a.png")
    save_figure(plot_ensemble(head, sample_paths=3, title="t", stats=stats), tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    with pytest.raises(DataError, match="q0.1"):
        plot_ensemble(head, stats=stats, quantiles=(0.1, 0.9))


def tmp_io(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("integer", [True, False])
def test_streamed_statistics_are_bitwise_those_of_numpy(tmp_path, integer):
    """Sums in NumPy's order: mean and SD bitwise; quantiles exact for integer counts, else within a bin."""
    traj = synthetic(1000, 7, 3, seed=1, integer=integer)
    qs = (0.0, 0.05, 0.5, 0.9, 1.0)
    merged = merge_chunks(chunks_of(traj, [0, 1, 333, 999, 1000], tmp_path), quantiles=qs, sample_paths=0)
    np.testing.assert_array_equal(merged.mean, traj.mean())
    np.testing.assert_array_equal(merged.sd, traj.std())
    exact = traj.quantile(np.asarray(qs))
    assert merged.exact_quantiles == integer
    if integer:
        np.testing.assert_array_equal(merged.quantile_values, exact)
    else:
        width = (traj.counts.max(axis=0) - traj.counts.min(axis=0)) / (2**23 // 21)
        assert np.all(np.abs(merged.quantile_values - exact) <= width)
    assert merged.samples.n_trajectories == 0


def test_streamed_quantiles_fall_back_to_bins_when_the_histogram_is_too_large(tmp_path):
    traj = synthetic(200, 4, 2, seed=2)
    merged = merge_chunks(chunks_of(traj, [0, 100, 200], tmp_path), quantiles=(0.1, 0.5), max_bins=64)
    assert not merged.exact_quantiles
    width = (traj.counts.max(axis=0) - traj.counts.min(axis=0)) / 8
    assert np.all(np.abs(merged.quantile_values - traj.quantile(np.asarray([0.1, 0.5]))) <= width)


def test_nan_cells_give_nan_statistics(tmp_path):
    traj = synthetic(20, 3, 2, seed=3)
    counts = traj.counts.copy()
    counts[4, 2, 1] = np.nan
    traj = dataclasses.replace(traj, counts=counts)
    merged = merge_chunks(chunks_of(traj, [0, 10, 20], tmp_path), quantiles=(0.5,))
    np.testing.assert_array_equal(merged.mean, traj.mean())
    np.testing.assert_array_equal(merged.quantile_values, traj.quantile(np.asarray([0.5])))
    assert np.isnan(merged.quantile_values[0, 2, 1]) and np.isfinite(merged.quantile_values[0, 0]).all()


def test_chunks_that_do_not_tile_are_refused(tmp_path):
    traj = synthetic(10, 3, 1, seed=4)
    paths = chunks_of(traj, [0, 4, 10], tmp_path)
    with pytest.raises(DataError, match="do not tile"):
        merge_chunks([p for p in paths if p.name != "chunk0.npz"])
    (tmp_path / "other.npz").write_bytes(b"")
    np.savez(tmp_path / "other.npz", counts=np.zeros(3))
    with pytest.raises(DataError, match="not a file written by Trajectories.to_npz"):
        merge_chunks([tmp_path / "other.npz"])
