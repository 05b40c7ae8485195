"""A file knows which run it belongs to: TOPDM/MPPI trajectory files, summaries and planner
checkpoints carry their run's identity (settings hash, seed, trajectory index), and a file swapped
between trajectory folders, or copied in from another seed or another run with other settings, is
refused with one line naming the file and both identities: by ``--resume``, a campaign's
``--resume``, the report and the Minari export. Files without a run (the authors' release, demo
folders, TOPDM folders written before files named their run) are still read as demonstrations."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from reliability_helpers import TOPDM_PROG, copy_run, error_line, snapshot, topdm_argv

from baselines.common.trajectory import ARRAY_KEYS, load_trajectory, save_trajectory
from baselines.topdm.__main__ import main
from baselines.topdm.report import main as report_main

fault = pytest.mark.fault
ENV = "EggHandOver-v0"
TRAJECTORY = ("trajectory.npz", "trajectory.json")


def _made(factory: pytest.TempPathFactory, name: str, *extra: str) -> Path:
    out = factory.mktemp(name) / "run"
    assert main(topdm_argv(out, *extra)) == 0
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Finished smoke runs: ``two`` (seeds 0 and 1), ``seed1`` (one trajectory, seed 1: the same
    settings and seed as two's traj_001, but trajectory 0 of its run) and ``other`` (seed 0 with
    another planner setting)."""
    return {
        "two": _made(tmp_path_factory, "two", "--trajectories", "2"),
        "seed1": _made(tmp_path_factory, "seed1", "--seed", "1"),
        "other": _made(tmp_path_factory, "other", "--set", "tau_scaler=0.9"),
    }


def _copy(source: Path, dest: Path, names: tuple[str, ...]) -> None:
    for name in names:
        shutil.copy(source / name, dest / name)


def _swap(run: Path, names: tuple[str, ...]) -> None:
    """Exchange files between traj_000 and traj_001 of ``run``."""
    a, b = run / "traj_000", run / "traj_001"
    for name in names:
        data = (a / name).read_bytes()
        shutil.copy(b / name, a / name)
        (b / name).write_bytes(data)


def _foreign_checkpoint(run: Path, runs: dict[str, Path]) -> None:
    """traj_001, unfinished, given the checkpoints of seed1's traj_000: the same settings and seed,
    so the checkpoint store's manifest agrees; only the planner state says it is trajectory 0."""
    folder = run / "traj_001"
    for name in (*TRAJECTORY, "summary.json"):
        (folder / name).unlink()
    shutil.rmtree(folder / "checkpoints")
    shutil.copytree(runs["seed1"] / "traj_000" / "checkpoints", folder / "checkpoints")


# (label, damage, file named, what the line says)
SWAPS: list[tuple[str, Callable[[Path, dict[str, Path]], object], str, str]] = [
    (
        "npz swapped between two trajectories",
        lambda r, _: _swap(r, TRAJECTORY[:1]),
        "trajectory.npz",
        "trajectory=1",
    ),
    (
        "trajectory files swapped",
        lambda r, _: _swap(r, TRAJECTORY),
        "trajectory.json",
        "trajectory=1",
    ),
    (
        "summaries swapped",
        lambda r, _: _swap(r, ("summary.json",)),
        "summary.json",
        "trajectory=1",
    ),
    (
        "npz of another run with other settings",
        lambda r, rs: _copy(rs["other"] / "traj_000", r / "traj_000", TRAJECTORY[:1]),
        "trajectory.npz",
        "config_hash=",
    ),
    (
        "trajectory files of another run with other settings",
        lambda r, rs: _copy(rs["other"] / "traj_000", r / "traj_000", TRAJECTORY),
        "trajectory.json",
        "config_hash=",
    ),
    (
        "trajectory files of the same seed in another run",
        lambda r, rs: _copy(rs["seed1"] / "traj_000", r / "traj_001", TRAJECTORY),
        "trajectory.json",
        "trajectory=0",
    ),
    (
        "planner checkpoint of the same seed in another run",
        _foreign_checkpoint,
        "planner_state.npz",
        "trajectory=0",
    ),
]


@fault
@pytest.mark.parametrize("label,damage,name,says", SWAPS, ids=[s[0] for s in SWAPS])
def test_resume_refuses_a_file_of_another_trajectory(
    runs, tmp_path, capsys, label, damage, name, says
) -> None:
    run = copy_run(runs["two"], tmp_path)
    damage(run, runs)
    before = snapshot(run)
    assert main(topdm_argv(run, "--resume", "--trajectories", "2")) == 2
    line = error_line(capsys, TOPDM_PROG)
    assert name in line and says in line and line.count("config_hash=") == 2, line
    assert snapshot(run) == before


@fault
@pytest.mark.parametrize("label,damage,name,says", SWAPS, ids=[s[0] for s in SWAPS])
def test_the_report_refuses_a_file_of_another_trajectory(
    runs, tmp_path, capsys, label, damage, name, says
) -> None:
    run = copy_run(runs["two"], tmp_path)
    damage(run, runs)
    before = snapshot(run)
    assert report_main([str(run)]) == 2
    err = capsys.readouterr().err
    assert name in err and err.count("config_hash=") == 2 and err.count("\n") == 1, err
    assert snapshot(run) == before


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from baselines.topdm.campaign import CampaignConfig, run_campaign

    out = tmp_path_factory.mktemp("campaign") / "c"
    args = CampaignConfig(envs=(ENV,), preset="smoke", out=out, trajectories=2, local=True, video=False)  # fmt: skip
    with open(os.devnull, "w") as sink:
        run_campaign(args, stream=sink)
    return out


@fault
@pytest.mark.parametrize("names", [TRAJECTORY[:1], ("summary.json",)], ids=["npz", "summary"])
def test_a_campaign_resume_refuses_a_swapped_file(campaign, tmp_path, capsys, names) -> None:
    from baselines.topdm.campaign import main as campaign_main

    out = copy_run(campaign, tmp_path)
    _swap(out / ENV, names)
    before = snapshot(out)
    argv = ["--envs", ENV, "--preset", "smoke", "--trajectories", "2", "--out", str(out),
            "--local", "--no-video", "--resume"]  # fmt: skip
    assert campaign_main(argv) == 2
    line = error_line(capsys, "python -m baselines.topdm.campaign")
    assert names[0] in line and "trajectory=1" in line and "trajectory=0" in line, line
    assert snapshot(out) == before


def _without_identity(folder: Path) -> None:
    """Rewrite a finished trajectory as files written before files named their run."""
    traj = load_trajectory(folder / "trajectory.npz")
    meta = {k: traj.meta[k] for k in ("env_id", "goal", "seed", "config", "planner")}
    save_trajectory(folder / "trajectory.npz", {k: getattr(traj, k) for k in ARRAY_KEYS}, meta)
    summary = json.loads((folder / "summary.json").read_text())
    summary.pop("run_identity")
    (folder / "summary.json").write_text(json.dumps(summary))


@fault
def test_a_folder_written_before_files_named_their_run(runs, tmp_path, capsys) -> None:
    """Resuming it is refused with one line; reading it as demonstrations and reporting it work."""
    from baselines.td3_demos.demos import load_demos

    run = copy_run(runs["two"], tmp_path)
    for folder in sorted(run.glob("traj_*")):
        _without_identity(folder)
    before = snapshot(run)
    assert main(topdm_argv(run, "--resume", "--trajectories", "2")) == 2
    assert "names no run" in error_line(capsys, TOPDM_PROG)
    assert snapshot(run) == before
    demos = load_demos(run, ENV)
    assert len(demos) == 2 and all(d.identity is None for d in demos)
    assert report_main([str(run)]) == 0
    assert "| topdm | 1 | 3/3 |" in capsys.readouterr().out


@fault
def test_a_file_records_its_run_in_both_its_files(runs) -> None:
    traj = load_trajectory(runs["two"] / "traj_001" / "trajectory.npz")
    assert traj.identity == traj.meta["run_identity"]
    assert traj.identity is not None and (traj.identity["seed"], traj.identity["trajectory"]) == (1, 1)  # fmt: skip
    with np.load(runs["two"] / "traj_001" / "trajectory.npz") as data:
        assert json.loads(data["run_identity"].tobytes()) == traj.identity
