"""HER run folders under faults: each resume either rebuilds what is missing exactly from what is
intact, or stops with one line naming the file and the safe next step, changing nothing."""

from __future__ import annotations

import errno
import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from reliability_helpers import (
    HER_PROG,
    copy_run,
    damage_past_checksums,
    error_line,
    fill_the_disk_at,
    her_argv,
    only_checkpoint,
    snapshot,
)

pytest.importorskip("stable_baselines3")

from baselines.her.__main__ import main

fault = pytest.mark.fault
bad_input = pytest.mark.bad_input


def _truncated(path: Path) -> bytes:
    return path.read_bytes()[: path.stat().st_size // 2]


def _truncate(path: Path) -> None:
    path.write_bytes(_truncated(path))


# (label, damage, the file the message must name, what it must say)
REFUSED: list[tuple[str, Callable[[Path], object], str, str]] = [
    (
        "config.json removed",
        lambda r: (r / "config.json").unlink(),
        "config.json",
        "Restore config.json",
    ),
    (
        "config.json binary garbage",
        lambda r: (r / "config.json").write_bytes(b"\x80\x81"),
        "config.json",
        "restore it",
    ),
    (
        "config.json not an object",
        lambda r: (r / "config.json").write_text("[]"),
        "config.json",
        "restore it",
    ),
    (
        "versions.json damaged",
        lambda r: (r / "versions.json").write_text("{"),
        "versions.json",
        "restore it",
    ),
    (
        "checkpoints removed",
        lambda r: shutil.rmtree(r / "checkpoints"),
        "checkpoints",
        "no checkpoint",
    ),
    (
        "checkpoint dir removed",
        lambda r: shutil.rmtree(only_checkpoint(r)),
        "latest.json",
        "does not exist",
    ),
    (
        "manifest removed",
        lambda r: (only_checkpoint(r) / "manifest.json").unlink(),
        "manifest.json",
        "incomplete",
    ),
    (
        "manifest garbage",
        lambda r: (only_checkpoint(r) / "manifest.json").write_text("{x"),
        "manifest.json",
        "damaged",
    ),
    (
        "model.zip truncated",
        lambda r: _truncate(only_checkpoint(r) / "model.zip"),
        "model.zip",
        "checksum",
    ),
    (
        "model.zip removed",
        lambda r: (only_checkpoint(r) / "model.zip").unlink(),
        "model.zip",
        "missing",
    ),
    (
        "replay_buffer.pkl removed",
        lambda r: (only_checkpoint(r) / "replay_buffer.pkl").unlink(),
        "replay_buffer.pkl",
        "missing",
    ),
    (
        "replay_buffer.pkl truncated",
        lambda r: _truncate(only_checkpoint(r) / "replay_buffer.pkl"),
        "replay_buffer.pkl",
        "checksum",
    ),
    (
        "vecnormalize.pkl removed",
        lambda r: (only_checkpoint(r) / "vecnormalize.pkl").unlink(),
        "vecnormalize.pkl",
        "missing",
    ),
    (
        "vecnormalize.pkl zeroed",
        lambda r: (only_checkpoint(r) / "vecnormalize.pkl").write_bytes(b""),
        "vecnormalize.pkl",
        "checksum",
    ),
    (
        "identity edited",
        lambda r: _edit_identity(only_checkpoint(r)),
        "step_0000000100",
        "belongs to another run",
    ),
    (
        "model.zip garbage, checksummed",
        lambda r: damage_past_checksums(r, "model.zip", b"PK\x03\x04junk"),
        "model.zip",
        "damaged model file",
    ),
    (
        "model.zip empty, checksummed",
        lambda r: damage_past_checksums(r, "model.zip", b""),
        "model.zip",
        "damaged model file",
    ),
    (
        "buffer truncated, checksummed",
        lambda r: damage_past_checksums(
            r, "replay_buffer.pkl", _truncated(only_checkpoint(r) / "replay_buffer.pkl")
        ),
        "replay_buffer.pkl",
        "damaged replay buffer",
    ),
    (
        "buffer of another type, checksummed",
        lambda r: damage_past_checksums(r, "replay_buffer.pkl", pickle.dumps({"a": 1})),
        "replay_buffer.pkl",
        "damaged replay buffer",
    ),
    (
        "normaliser garbage, checksummed",
        lambda r: damage_past_checksums(r, "vecnormalize.pkl", b"\x80\x04junk"),
        "vecnormalize.pkl",
        "damaged observation normaliser",
    ),
    (
        "normaliser removed with its record",
        lambda r: damage_past_checksums(r, "vecnormalize.pkl", None),
        "vecnormalize.pkl",
        "missing",
    ),
    (
        "buffer removed with its record",
        lambda r: damage_past_checksums(r, "replay_buffer.pkl", None),
        "replay_buffer.pkl",
        "missing",
    ),
]


def _edit_identity(ckpt: Path) -> None:
    manifest = json.loads((ckpt / "manifest.json").read_text())
    manifest["identity"]["seed"] = 4
    (ckpt / "manifest.json").write_text(json.dumps(manifest))


@fault
@pytest.mark.parametrize("label,damage,name,says", REFUSED, ids=[r[0] for r in REFUSED])
def test_damage_stops_resume_with_one_line_and_changes_nothing(
    her_run, tmp_path, capsys, label, damage, name, says
) -> None:
    run = copy_run(her_run, tmp_path)
    damage(run)
    before = snapshot(run)
    assert main([*her_argv(run, 200), "--resume"]) == 2
    line = error_line(capsys, HER_PROG)
    assert name in line and says in line, line
    assert snapshot(run) == before
    # the advice never leads to overwriting: a new run in the folder is refused too
    assert main(her_argv(run, 200)) == 2
    capsys.readouterr()
    assert snapshot(run) == before


@fault
def test_a_checkpoint_of_another_seed_copied_in_is_refused(
    her_run, her_run_other_seed, tmp_path, capsys
) -> None:
    run = copy_run(her_run, tmp_path)
    shutil.rmtree(run / "checkpoints")
    shutil.copytree(her_run_other_seed / "checkpoints", run / "checkpoints")
    before = snapshot(run)
    assert main([*her_argv(run, 200), "--resume"]) == 2
    line = error_line(capsys, HER_PROG)
    assert "belongs to another run" in line and "seed 4" in line
    assert snapshot(run) == before


@fault
def test_other_settings_or_a_shorter_total_are_refused(her_run, tmp_path, capsys) -> None:
    run = copy_run(her_run, tmp_path)
    before = snapshot(run)
    assert main([*her_argv(run, 200), "--resume", "--lr", "0.01"]) == 2
    assert "--lr: run has 0.001, now 0.01" in error_line(capsys, HER_PROG)
    assert main([*her_argv(run, 50), "--resume"]) == 2
    assert "below the checkpoint" in error_line(capsys, HER_PROG)
    assert snapshot(run) == before


def _metrics(run: Path) -> str:
    return (run / "metrics.csv").read_text()


# (label, damage): the resume succeeds and rebuilds what was lost exactly
REBUILT: list[tuple[str, Callable[[Path], object]]] = [
    ("latest.json removed", lambda r: (r / "checkpoints" / "latest.json").unlink()),
    ("latest.json garbage", lambda r: (r / "checkpoints" / "latest.json").write_text("\x00{")),
    ("metrics.csv removed", lambda r: (r / "metrics.csv").unlink()),
    (
        "metrics.csv torn by a full disk",
        lambda r: (r / "metrics.csv").write_text(_metrics(r) + "200,0.5,0"),
    ),
    ("summary.json removed", lambda r: (r / "summary.json").unlink()),
    (
        "a killed save's leftovers",
        lambda r: (r / "checkpoints" / ".partial-999999999-step_0000000200").mkdir(),
    ),
    ("a killed write's temporary", lambda r: (r / ".metrics.csv.tmp-999999999").write_text("x")),
]


@fault
@pytest.mark.parametrize("label,damage", REBUILT, ids=[r[0] for r in REBUILT])
def test_what_is_lost_is_rebuilt_exactly_from_the_intact_checkpoint(
    her_run, tmp_path, capsys, label, damage
) -> None:
    run = copy_run(her_run, tmp_path)
    metrics = _metrics(run)
    ckpt = only_checkpoint(run)
    damage(run)
    assert main([*her_argv(run, 100), "--resume"]) == 0, capsys.readouterr().err
    assert _metrics(run) == metrics  # the evaluations, exactly
    assert only_checkpoint(run) == ckpt  # the complete checkpoint was kept (nothing was added)
    pointer = json.loads((run / "checkpoints" / "latest.json").read_text())
    assert pointer["checkpoint"] == ckpt.name
    assert json.loads((run / "summary.json").read_text())["num_timesteps"] == 100


@fault
def test_a_full_disk_during_training_keeps_the_last_checkpoint_and_resume_continues(
    her_run, tmp_path, capsys, monkeypatch
) -> None:
    import baselines.common.checkpoint as checkpoint

    run = copy_run(her_run, tmp_path)
    real = checkpoint.atomic_write

    def full_disk(path, writer):  # the buffer does not fit on the disk
        if Path(path).name == "replay_buffer.pkl":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, writer)

    monkeypatch.setattr(checkpoint, "atomic_write", full_disk)
    assert main([*her_argv(run, 200), "--resume"]) == 2
    line = error_line(capsys, HER_PROG)
    assert "No space left on device" in line and "replay_buffer.pkl" in line and "--resume" in line
    assert only_checkpoint(run).name == "step_0000000100"  # complete and still the latest
    assert not list((run / "checkpoints").glob(".partial-*"))
    monkeypatch.setattr(checkpoint, "atomic_write", real)  # space was freed
    assert main([*her_argv(run, 200), "--resume"]) == 0
    assert only_checkpoint(run).name == "step_0000000200"


# --- failed starts leave nothing behind --------------------------------------------------------

FAILED_STARTS: list[tuple[str, list[str], str]] = [
    ("unknown env", ["--env", "EggHandOvr-v0"], "EggHandOver-v0"),
    ("not a goal env", ["--env", "PenSpin-v0"], "not a goal env"),
    ("no such device", ["--device", "gpu0"], "--device"),
    ("no CUDA here", ["--device", "cuda:3"], "--device"),
]


@bad_input
@pytest.mark.parametrize("label,args,says", FAILED_STARTS, ids=[f[0] for f in FAILED_STARTS])
def test_a_failed_start_leaves_no_run_folder(tmp_path, capsys, label, args, says) -> None:
    out = tmp_path / "run"
    argv = her_argv(out)
    for flag, value in zip(args[::2], args[1::2], strict=True):
        argv = _replace(argv, flag, value) if flag in argv else [*argv, flag, value]
    if label == "no CUDA here":
        import torch

        if torch.cuda.device_count() > 3:
            pytest.skip("this machine has 4 CUDA devices")
    assert main(argv) == 2
    assert says in error_line(capsys, HER_PROG)
    assert not out.exists()


def _replace(argv: list[str], flag: str, value: str) -> list[str]:
    out = list(argv)
    out[out.index(flag) + 1] = value
    return out


BAD_OPTIONS: list[tuple[str, str]] = [
    ("--seed", "-1"),
    ("--seed", str(2**40)),
    ("--seed", "1.5"),
    ("--threads", "0"),
    ("--threads", "100000"),
    ("--n-envs", "0"),
    ("--n-envs", "100000"),
    ("--timesteps", "0"),
    ("--timesteps", "ten"),
    ("--lr", "nan"),
    ("--lr", "-1"),
    ("--gamma", "2"),
    ("--net-arch", "0,5"),
    ("--net-arch", "a,b"),
    ("--algo", "ppo"),
    ("--eval-freq", "0"),
]


@bad_input
@pytest.mark.parametrize("flag,value", BAD_OPTIONS)
def test_bad_options_exit_2_with_one_line_and_no_folder(tmp_path, capsys, flag, value) -> None:
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        main(
            _replace(her_argv(out), flag, value)
            if flag in her_argv(out)
            else [*her_argv(out), flag, value]
        )
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert flag in err[-1]
    assert not out.exists()


@fault
def test_a_crash_during_set_up_leaves_nothing_and_the_rerun_works(
    tmp_path, capsys, monkeypatch
) -> None:
    import baselines.her.train as train

    out = tmp_path / "run"

    def no_memory(*args, **kwargs):
        raise MemoryError("cannot allocate the replay buffer")

    monkeypatch.setattr(train, "build_model", no_memory)
    with pytest.raises(MemoryError):
        main(her_argv(out))
    assert not out.exists()
    monkeypatch.undo()
    assert main(her_argv(out)) == 0


@fault
def test_a_crash_while_resuming_changes_nothing(her_run, tmp_path, monkeypatch) -> None:
    import baselines.her.train as train

    run = copy_run(her_run, tmp_path)
    before = snapshot(run)

    def crash(*args, **kwargs):
        raise RuntimeError("killed while loading")

    monkeypatch.setattr(train, "restore_model", crash)
    with pytest.raises(RuntimeError):
        main([*her_argv(run, 200), "--resume"])
    assert snapshot(run) == before


@fault
def test_a_full_disk_at_the_first_checkpoint_is_no_dead_end(tmp_path, capsys, monkeypatch) -> None:
    run = tmp_path / "run"
    free_the_disk = fill_the_disk_at(monkeypatch, "replay_buffer.pkl")
    assert main(her_argv(run)) == 2
    assert "--resume" in error_line(capsys, HER_PROG)
    free_the_disk()  # the advice works
    assert main([*her_argv(run), "--resume"]) == 0
    rows = (run / "metrics.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in rows[1:]] == [100]  # redone once, not duplicated
