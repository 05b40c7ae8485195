"""TD3+demos run folders under faults: the same shared rules as HER and TOPDM (one
implementation in ``baselines.common``), checked on the runner's own files too."""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from reliability_helpers import (
    TD3_PROG,
    copy_run,
    damage_past_checksums,
    error_line,
    fill_the_disk_at,
    only_checkpoint,
    snapshot,
    td3_argv,
)

pytest.importorskip("stable_baselines3")

from baselines.td3_demos.__main__ import main

fault = pytest.mark.fault
bad_input = pytest.mark.bad_input


REFUSED: list[tuple[str, Callable[[Path], object], str, str]] = [
    ("config.json removed", lambda r: (r / "config.json").unlink(), "config.json", "Restore"),
    (
        "checkpoints removed",
        lambda r: shutil.rmtree(r / "checkpoints"),
        "checkpoints",
        "no checkpoint",
    ),
    (
        "scheduler.pkl removed",
        lambda r: (only_checkpoint(r) / "scheduler.pkl").unlink(),
        "scheduler.pkl",
        "missing",
    ),
    (
        "rng.pkl damaged",
        lambda r: (only_checkpoint(r) / "rng.pkl").write_bytes(b"\x80"),
        "rng.pkl",
        "checksum",
    ),
    (
        "scheduler.pkl garbage, checksummed",
        lambda r: damage_past_checksums(r, "scheduler.pkl", b"\x80\x04junk"),
        "scheduler.pkl",
        "damaged",
    ),
    (
        "rng.pkl of another type, checksummed",
        lambda r: damage_past_checksums(r, "rng.pkl", pickle.dumps([1, 2])),
        "rng.pkl",
        "damaged",
    ),
    (
        "rng.pkl removed with its record",
        lambda r: damage_past_checksums(r, "rng.pkl", None),
        "rng.pkl",
        "has no rng.pkl",
    ),
    (
        "normaliser removed with its record",
        lambda r: damage_past_checksums(r, "vecnormalize.pkl", None),
        "vecnormalize.pkl",
        "has no",
    ),
]


@fault
@pytest.mark.parametrize("label,damage,name,says", REFUSED, ids=[r[0] for r in REFUSED])
def test_damage_stops_resume_with_one_line_and_changes_nothing(
    td3_run, tmp_path, capsys, label, damage, name, says
) -> None:
    run = copy_run(td3_run, tmp_path)
    damage(run)
    before = snapshot(run)
    assert main(td3_argv(run, "--resume")) == 2
    line = error_line(capsys, TD3_PROG)
    assert name in line and says in line, line
    assert snapshot(run) == before


@fault
def test_a_lost_pointer_and_metrics_are_rebuilt(td3_run, tmp_path, capsys) -> None:
    run = copy_run(td3_run, tmp_path)
    metrics = (run / "metrics.csv").read_text()
    (run / "checkpoints" / "latest.json").unlink()
    (run / "metrics.csv").unlink()
    assert main(td3_argv(run, "--resume")) == 0, capsys.readouterr().err
    assert (run / "metrics.csv").read_text() == metrics
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["step"] == 150


FAILED_STARTS: list[tuple[str, list[str], str]] = [
    ("unknown env", ["--env", "PenSpn-v0"], "PenSpin-v0"),
    ("no such device", ["--device", "tpu"], "--device"),
    ("demos folder missing", ["--demos", "/nonexistent/demos"], "--demos"),
]


@bad_input
@pytest.mark.parametrize("label,args,says", FAILED_STARTS, ids=[f[0] for f in FAILED_STARTS])
def test_a_failed_start_leaves_no_run_folder(tmp_path, capsys, label, args, says) -> None:
    out = tmp_path / "run"
    argv = td3_argv(out)
    if args[0] == "--demos":
        argv.remove("--no-demos")
    assert main([*argv, *args]) == 2
    assert says in error_line(capsys, TD3_PROG)
    assert not out.exists()


BAD_OPTIONS = [("--seed", "-1"), ("--seed", str(2**40)), ("--threads", "0"),
               ("--threads", "100000"), ("--beta", "0"), ("--beta", "1.5"), ("--preset", "big")]  # fmt: skip


@bad_input
@pytest.mark.parametrize("flag,value", BAD_OPTIONS)
def test_bad_options_exit_2_and_leave_no_folder(tmp_path, capsys, flag, value) -> None:
    out = tmp_path / "run"
    argv = td3_argv(out)
    argv = (
        [*argv[: argv.index(flag) + 1], value, *argv[argv.index(flag) + 2 :]]
        if flag in argv
        else [*argv, flag, value]
    )
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and flag in capsys.readouterr().err.strip().splitlines()[-1]
    assert not out.exists()


@fault
def test_a_full_disk_at_the_first_checkpoint_is_no_dead_end(tmp_path, capsys, monkeypatch) -> None:
    """The advice printed ("continue with --resume") works: the run continues from step 0 and
    ends exactly as an uninterrupted one."""
    run = tmp_path / "run"
    free_the_disk = fill_the_disk_at(monkeypatch, "replay_buffer.pkl")
    assert main(td3_argv(run)) == 2
    assert "continue with --resume" in error_line(capsys, TD3_PROG)
    assert not list((run / "checkpoints").glob("step_*"))  # stopped before its first checkpoint
    free_the_disk()
    assert main([*td3_argv(run), "--resume"]) == 0
    reference = tmp_path / "reference"
    assert main(td3_argv(reference)) == 0

    def without_wall_time(folder: Path) -> list[str]:
        return [row.rsplit(",", 1)[0] for row in (folder / "metrics.csv").read_text().splitlines()]

    assert without_wall_time(run) == without_wall_time(reference)
