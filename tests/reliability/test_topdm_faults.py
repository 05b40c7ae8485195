"""TOPDM/MPPI run folders under faults: finished trajectories are never overwritten, lost files
are rebuilt exactly from the trajectory's complete checkpoint, everything else stops the resume
with one line naming the file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from reliability_helpers import (
    TOPDM_PROG,
    copy_run,
    error_line,
    only_checkpoint,
    snapshot,
    topdm_argv,
)

from baselines.common.checkpoint import CheckpointError
from baselines.common.trajectory import load_trajectory
from baselines.topdm.__main__ import main
from baselines.topdm.config import make_config
from baselines.topdm.run import run_trajectory

fault = pytest.mark.fault
bad_input = pytest.mark.bad_input
ENV = "EggHandOver-v0"


def _traj(run: Path) -> Path:
    return run / "traj_000"


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _swap_in_other_seed(run: Path, tmp: Path, what: str) -> None:
    """Replace this trajectory's files with those of seed 1 (a copied folder)."""
    other = tmp / "other"
    run_trajectory(ENV, make_config("smoke", ENV), 1, other, n_threads=1, video=False)
    if what == "trajectory":
        for name in ("trajectory.npz", "trajectory.json"):
            shutil.copy(other / name, _traj(run) / name)
    else:
        shutil.copy(other / "summary.json", _traj(run) / "summary.json")


REFUSED: list[tuple[str, Callable[[Path, Path], object], str, str]] = [
    (
        "config.json removed",
        lambda r, t: (r / "config.json").unlink(),
        "config.json",
        "Restore config.json",
    ),
    (
        "config.json damaged",
        lambda r, t: (r / "config.json").write_text("{"),
        "config.json",
        "restore it",
    ),
    (
        "trajectory.npz truncated",
        lambda r, t: _truncate(_traj(r) / "trajectory.npz"),
        "trajectory.npz",
        "finished but its file is damaged",
    ),
    (
        "trajectory.npz emptied",
        lambda r, t: (_traj(r) / "trajectory.npz").write_bytes(b""),
        "trajectory.npz",
        "damaged",
    ),
    (
        "trajectory.json garbage",
        lambda r, t: (_traj(r) / "trajectory.json").write_text("[}"),
        "trajectory.json",
        "damaged",
    ),
    (
        "trajectory.json removed",
        lambda r, t: (_traj(r) / "trajectory.json").unlink(),
        "trajectory.json",
        "missing",
    ),
    (
        "summary.json damaged",
        lambda r, t: (_traj(r) / "summary.json").write_text("{"),
        "summary.json",
        "rebuilt from the trajectory's checkpoint",
    ),
    (
        "trajectory of another seed copied in",
        lambda r, t: _swap_in_other_seed(r, t, "trajectory"),
        "trajectory.json",
        "another run",
    ),
    (
        "summary of another seed copied in",
        lambda r, t: _swap_in_other_seed(r, t, "summary"),
        "summary.json",
        "another run",
    ),
    (
        "finished, checkpoints and summary lost",
        lambda r, t: (
            shutil.rmtree(_traj(r) / "checkpoints"),
            (_traj(r) / "summary.json").unlink(),
        ),
        "summary.json",
        "cannot be rebuilt",
    ),
    (
        "planner state truncated, files lost",
        lambda r, t: (
            _truncate(only_checkpoint(_traj(r)) / "planner_state.npz"),
            (_traj(r) / "summary.json").unlink(),
        ),
        "planner_state.npz",
        "checksum",
    ),
]


@fault
@pytest.mark.parametrize("label,damage,name,says", REFUSED, ids=[r[0] for r in REFUSED])
def test_damage_stops_resume_with_one_line_and_changes_nothing(
    topdm_run, tmp_path, capsys, label, damage, name, says
) -> None:
    run = copy_run(topdm_run, tmp_path)
    damage(run, tmp_path)
    before = snapshot(run)
    assert main(topdm_argv(run, "--resume")) == 2
    line = error_line(capsys, TOPDM_PROG)
    assert name in line and says in line, line
    assert snapshot(run) == before
    assert main(topdm_argv(run)) == 2  # a new run in the folder is refused too
    capsys.readouterr()
    assert snapshot(run) == before


def _arrays(run: Path) -> dict[str, np.ndarray]:
    traj = load_trajectory(_traj(run) / "trajectory.npz")
    return {k: getattr(traj, k) for k in ("start_state", "actions", "rewards", "success", "states")}


REBUILT: list[tuple[str, Callable[[Path], object]]] = [
    (
        "trajectory files removed",
        lambda r: [(_traj(r) / n).unlink() for n in ("trajectory.npz", "trajectory.json")],
    ),
    ("summary.json removed", lambda r: (_traj(r) / "summary.json").unlink()),
    (
        "all finished files removed",
        lambda r: [
            (_traj(r) / n).unlink() for n in ("trajectory.npz", "trajectory.json", "summary.json")
        ],
    ),
    (
        "latest.json removed",
        lambda r: (
            (_traj(r) / "checkpoints" / "latest.json").unlink(),
            (_traj(r) / "summary.json").unlink(),
        ),
    ),
    ("run summary removed", lambda r: (r / "summary.json").unlink()),
]


@fault
@pytest.mark.parametrize("label,damage", REBUILT, ids=[r[0] for r in REBUILT])
def test_lost_files_are_rebuilt_exactly_from_the_complete_checkpoint(
    topdm_run, tmp_path, capsys, label, damage
) -> None:
    run = copy_run(topdm_run, tmp_path)
    arrays = _arrays(run)
    summary = json.loads((_traj(run) / "summary.json").read_text())
    damage(run)
    assert main(topdm_argv(run, "--resume")) == 0, capsys.readouterr().err
    for key, value in _arrays(run).items():
        np.testing.assert_array_equal(value, arrays[key], err_msg=key)
    assert json.loads((_traj(run) / "summary.json").read_text()) == summary


@fault
@pytest.mark.parametrize("mppi", [False, True], ids=["topdm", "mppi"])
def test_a_killed_trajectory_with_a_lost_pointer_resumes_bitwise(tmp_path, mppi) -> None:
    config = make_config("smoke", ENV)
    full = run_trajectory(ENV, config, 5, tmp_path / "a", mppi=mppi, n_threads=1, video=False)
    run_trajectory(ENV, config, 5, tmp_path / "b", mppi=mppi, n_threads=1, video=False, max_steps=2)
    (tmp_path / "b" / "checkpoints" / "latest.json").unlink()  # killed, and the pointer lost
    (tmp_path / "b" / "checkpoints" / ".partial-999999999-step_0000000003").mkdir()
    resumed = run_trajectory(
        ENV, config, 5, tmp_path / "b", mppi=mppi, resume=True, n_threads=1, video=False
    )
    assert resumed["return"] == full["return"]
    a, b = (
        load_trajectory(tmp_path / "a" / "trajectory.npz"),
        load_trajectory(tmp_path / "b" / "trajectory.npz"),
    )
    np.testing.assert_array_equal(a.states, b.states)


@fault
def test_a_checkpoint_of_another_trajectory_is_refused(tmp_path) -> None:
    config = make_config("smoke", ENV)
    run_trajectory(ENV, config, 1, tmp_path / "a", n_threads=1, video=False, max_steps=1)
    run_trajectory(ENV, config, 2, tmp_path / "b", n_threads=1, video=False, max_steps=1)
    (step,) = (tmp_path / "a" / "checkpoints").glob("step_*")
    shutil.copytree(step, tmp_path / "b" / "checkpoints" / "step_0000000002")  # newer, foreign
    (tmp_path / "b" / "checkpoints" / "latest.json").unlink()
    resumed = run_trajectory(ENV, config, 2, tmp_path / "b", resume=True, n_threads=1, video=False)
    assert resumed["seed"] == 2  # continued from its own checkpoint, the foreign one skipped
    shutil.rmtree(tmp_path / "b")
    run_trajectory(ENV, config, 2, tmp_path / "b", n_threads=1, video=False, max_steps=1)
    shutil.rmtree(tmp_path / "b" / "checkpoints")
    shutil.copytree(tmp_path / "a" / "checkpoints", tmp_path / "b" / "checkpoints")
    with pytest.raises(CheckpointError, match="belongs to another run"):
        run_trajectory(ENV, config, 2, tmp_path / "b", resume=True, n_threads=1, video=False)


@fault
def test_run_trajectory_refuses_to_start_over_an_existing_trajectory(topdm_run, tmp_path) -> None:
    run = copy_run(topdm_run, tmp_path)
    before = snapshot(run)
    with pytest.raises(FileExistsError, match="already holds a trajectory"):
        run_trajectory(ENV, make_config("smoke", ENV), 0, _traj(run), n_threads=1, video=False)
    assert snapshot(run) == before


FAILED_STARTS: list[tuple[str, list[str], str]] = [
    ("unknown env", ["--env", "EggHandOvr-v0"], "EggHandOver-v0"),
    ("not a Dexterous Gym env", ["--env", "CartPole-v1"], "Dexterous Gym"),
]


@bad_input
@pytest.mark.parametrize("label,args,says", FAILED_STARTS, ids=[f[0] for f in FAILED_STARTS])
def test_a_failed_start_leaves_no_run_folder(tmp_path, capsys, label, args, says) -> None:
    out = tmp_path / "run"
    argv = topdm_argv(out)
    argv[argv.index(args[0]) + 1] = args[1]
    assert main(argv) == 2
    assert says in error_line(capsys, TOPDM_PROG)
    assert not out.exists()


BAD_OPTIONS = [
    ("--seed", "-1"),
    ("--seed", str(2**40)),
    ("--threads", "0"),
    ("--threads", "100000"),
    ("--trajectories", "0"),
    ("--preset", "huge"),
    ("--threads", "two"),
]


@bad_input
@pytest.mark.parametrize("flag,value", BAD_OPTIONS)
def test_bad_options_exit_2_and_leave_no_folder(tmp_path, capsys, flag, value) -> None:
    out = tmp_path / "run"
    argv = topdm_argv(out)
    argv = (
        [*argv[: argv.index(flag) + 1], value, *argv[argv.index(flag) + 2 :]]
        if flag in argv
        else [*argv, flag, value]
    )
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and flag in capsys.readouterr().err.strip().splitlines()[-1]
    assert not out.exists()


# --- campaigns: the same promises, for a folder of run folders ---------------------------------


@pytest.fixture(scope="module")
def campaign_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-trajectory smoke campaign on one env (in this process)."""
    import os

    from baselines.topdm.campaign import CampaignConfig, run_campaign

    out = tmp_path_factory.mktemp("campaign") / "c"
    args = CampaignConfig(envs=(ENV,), preset="smoke", out=out, trajectories=2, local=True, video=False)  # fmt: skip
    with open(os.devnull, "w") as sink:
        run_campaign(args, stream=sink)
    return out


def _campaign_argv(out: Path) -> list[str]:
    return ["--envs", ENV, "--preset", "smoke", "--trajectories", "2", "--out", str(out),
            "--local", "--no-video", "--resume"]  # fmt: skip


def _copy_trajectory_over_another(c: Path, t: Path) -> None:
    for name in ("trajectory.npz", "trajectory.json"):
        shutil.copy(c / ENV / "traj_000" / name, c / ENV / "traj_001" / name)


def _edit_campaign_seed(c: Path, t: Path) -> None:
    config = json.loads((c / "config.json").read_text())
    (c / "config.json").write_text(json.dumps({**config, "seed": 5}))


CAMPAIGN_REFUSED: list[tuple[str, Callable[[Path, Path], object], str]] = [
    (
        "an env folder's config.json removed",
        lambda c, t: (c / ENV / "config.json").unlink(),
        "config.json",
    ),
    (
        "a finished trajectory truncated",
        lambda c, t: _truncate(c / ENV / "traj_001" / "trajectory.npz"),
        "trajectory.npz",
    ),
    ("a trajectory copied in from another seed", _copy_trajectory_over_another, "trajectory.json"),
    ("the campaign's config.json edited", _edit_campaign_seed, "--seed"),
]


@fault
@pytest.mark.parametrize("label,damage,name", CAMPAIGN_REFUSED, ids=[r[0] for r in CAMPAIGN_REFUSED])  # fmt: skip
def test_a_damaged_campaign_stops_with_one_line_and_changes_nothing(
    campaign_run, tmp_path, capsys, label, damage, name
) -> None:
    from baselines.topdm.campaign import main as campaign_main

    out = copy_run(campaign_run, tmp_path)
    damage(out, tmp_path)
    before = snapshot(out)
    assert campaign_main(_campaign_argv(out)) == 2
    line = error_line(capsys, "python -m baselines.topdm.campaign")
    assert name in line, line
    assert snapshot(out) == before


@fault
def test_a_campaign_killed_mid_trajectory_resumes_bitwise(campaign_run, tmp_path) -> None:
    """Kill: one trajectory part-way (its last checkpoint kept), the next never started."""
    from baselines.topdm.campaign import main as campaign_main

    out = copy_run(campaign_run, tmp_path)
    reference = load_trajectory(out / ENV / "traj_001" / "trajectory.npz")
    folder = out / ENV / "traj_001"
    for name in ("trajectory.npz", "trajectory.json", "summary.json"):
        (folder / name).unlink()
    steps = sorted((folder / "checkpoints").glob("step_*"))
    for later in steps[1:]:  # as if killed after the first control step
        shutil.rmtree(later)
    (folder / "checkpoints" / "latest.json").unlink()
    finished = snapshot(out / ENV / "traj_000")
    assert campaign_main(_campaign_argv(out)) == 0
    assert snapshot(out / ENV / "traj_000") == finished  # the finished one is not touched
    resumed = load_trajectory(folder / "trajectory.npz")
    assert np.array_equal(resumed.states, reference.states)
