"""Trajectory files, demo folders, metrics files and the remaining CLIs under faults and bad
input: every problem is one ValueError (or one CLI line, exit 2) naming the file."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from reliability_helpers import copy_run

from baselines.common.trajectory import TrajectoryFileError, load_trajectory, save_trajectory

fault = pytest.mark.fault
bad_input = pytest.mark.bad_input


def _write(path: Path) -> Path:
    states = np.arange(12.0).reshape(3, 4)
    arrays = {
        "start_state": states[0],
        "actions": np.zeros((2, 5)),
        "rewards": np.zeros(2),
        "success": np.zeros(2),
        "states": states,
    }
    meta = {"env_id": "EggHandOver-v0", "goal": [0.0], "seed": 0, "config": {}, "planner": "topdm"}
    return save_trajectory(path / "t.npz", arrays, meta)


def _rewrite_arrays(path: Path, **changes: object) -> None:
    with np.load(path) as data:
        arrays = dict(data)
    arrays.update(changes)  # type: ignore[arg-type]
    np.savez(path, **arrays)


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _pickled_array(path: Path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("actions.npy", buffer.getvalue())


TRAJECTORY_FAULTS: list[tuple[str, Callable[[Path], object], str]] = [
    ("npz truncated", lambda p: p.write_bytes(p.read_bytes()[:50]), "damaged"),
    ("npz emptied", lambda p: p.write_bytes(b""), "damaged"),
    ("npz a byte flipped", _flip_a_byte, "t.npz"),
    ("npz removed", lambda p: p.unlink(), "not found"),
    ("npz holds a pickle", _pickled_array, "t.npz"),
    ("sidecar removed", lambda p: p.with_suffix(".json").unlink(), "not found"),
    (
        "sidecar binary",
        lambda p: p.with_suffix(".json").write_bytes(b"\xff\xfe\x00"),
        "damaged sidecar",
    ),
    ("sidecar a list", lambda p: p.with_suffix(".json").write_text("[1]"), "JSON object"),
    ("sidecar env_id a number", lambda p: _edit_meta(p, env_id=3), "env_id"),
    ("sidecar another version", lambda p: _edit_meta(p, format_version=2), "format_version"),
    (
        "actions of strings",
        lambda p: _rewrite_arrays(p, actions=np.full((2, 5), "x")),
        "actions must hold numbers",
    ),
    (
        "rewards of booleans",
        lambda p: _rewrite_arrays(p, rewards=np.zeros(2, bool)),
        "rewards must hold numbers",
    ),
    ("states with NaN", lambda p: _rewrite_arrays(p, states=np.full((3, 4), np.nan)), "states"),
    ("states[0] differs", lambda p: _rewrite_arrays(p, start_state=np.ones(4)), "states[0]"),
    ("rewards too long", lambda p: _rewrite_arrays(p, rewards=np.zeros(3)), "rewards has shape"),
    ("actions 1-d", lambda p: _rewrite_arrays(p, actions=np.zeros(2)), "actions must be"),
]


def _edit_meta(path: Path, **changes: object) -> None:
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), **changes}))


@fault
@pytest.mark.parametrize(
    "label,damage,says", TRAJECTORY_FAULTS, ids=[t[0] for t in TRAJECTORY_FAULTS]
)
def test_damaged_trajectory_files_are_named(tmp_path, label, damage, says) -> None:
    path = _write(tmp_path)
    damage(path)
    with pytest.raises(TrajectoryFileError) as info:
        load_trajectory(path)
    assert says in str(info.value) and "t." in str(info.value)


@fault
def test_demo_folders_with_a_damaged_trajectory_fail_before_training(topdm_run, tmp_path) -> None:
    from baselines.td3_demos.demos import DemoFolderError, load_demos

    run = copy_run(topdm_run, tmp_path)
    load_demos(run, "EggHandOverSparse-v0")  # a TOPDM run folder is a demo folder
    with pytest.raises(DemoFolderError, match="not of PenSpin-v0"):
        load_demos(run, "PenSpin-v0")
    npz = run / "traj_000" / "trajectory.npz"
    npz.write_bytes(npz.read_bytes()[:64])
    with pytest.raises(DemoFolderError, match=r"trajectory\.npz"):
        load_demos(run, "EggHandOver-v0")


# --- metrics files and the plot command --------------------------------------------------------


@fault
@pytest.mark.parametrize(
    "content,says",
    [
        ("timesteps,success_final\n100,0.5\n200,", "line 3 is damaged"),
        ("timesteps,success_final\n100,zero\n", "line 2 is damaged"),
        ("success_final\n0.5\n", "no timesteps column"),
        (b"\xff\xfe\x00\x01", "is damaged"),
    ],
    ids=["torn last row", "a word", "no timesteps", "binary"],
)
def test_the_plot_command_names_a_damaged_metrics_file(
    her_run, tmp_path, capsys, content, says
) -> None:
    pytest.importorskip("matplotlib")
    from baselines.common.plotting import main

    run = copy_run(her_run, tmp_path)
    metrics = run / "metrics.csv"
    metrics.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SystemExit) as info:
        main([str(run), "--out", str(tmp_path / "fig.png")])
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "metrics.csv" in last and says in last


# --- the env suite's own CLI ---------------------------------------------------------------------

ROLLOUT_ARGS: list[tuple[list[str], str]] = [
    (["NoSuchEnv-v0"], "env_id"),
    (["PenSpin-v0", "--steps", "0"], "--steps"),
    (["PenSpin-v0", "--steps", "x"], "--steps"),
    (["PenSpin-v0", "--width", "0"], "--width"),
    (["PenSpin-v0", "--width", "100000"], "width"),
    (["PenSpin-v0", "--seed", "-3"], "seed"),
    (["PenSpin-v0", "--out", "video.avi"], "--out"),
    (["PenSpin-v0", "--policy", "smart"], "--policy"),
]


@bad_input
@pytest.mark.parametrize("args,says", ROLLOUT_ARGS, ids=[" ".join(a[0]) for a in ROLLOUT_ARGS])
def test_the_rollout_command_refuses_bad_arguments_in_one_line(
    tmp_path, capsys, monkeypatch, args, says
) -> None:
    from dexterous_gym.__main__ import main

    monkeypatch.chdir(tmp_path)
    try:
        code = main(["rollout", *args])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert "error" in lines[-1] and says in lines[-1], lines
    assert not list(tmp_path.iterdir())  # no video written
