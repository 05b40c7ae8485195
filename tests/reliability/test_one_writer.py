"""One writer per run folder: while a process holds a run folder (a run, a ``--resume``), a
second ``--resume`` or a new run on it stops at once with one line naming the holder and
changes nothing; a killed holder leaves no stale lock (the operating system's flock)."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_helpers import (
    HER_PROG,
    TD3_PROG,
    copy_run,
    error_line,
    her_argv,
    snapshot,
    td3_argv,
)

pytest.importorskip("stable_baselines3")

from baselines.common.runfolder import folder_lock, run_folder_lock

fault = pytest.mark.fault


def _held_elsewhere(run: Path, main, argv: list[str], capsys, prog: str) -> str:
    """Run ``main(argv)`` while the folder is locked (an flock on another open file: to the
    operating system that is another holder) and return its error line."""
    before = snapshot(run)
    with folder_lock(run):
        assert main(argv) == 2
    assert snapshot(run) == before  # nothing read-modify-written, nothing added
    return error_line(capsys, prog)


@fault
def test_a_second_td3_resume_is_refused_while_the_first_runs(td3_run, tmp_path, capsys) -> None:
    from baselines.td3_demos.__main__ import main

    run = copy_run(td3_run, tmp_path)
    line = _held_elsewhere(run, main, [*td3_argv(run), "--resume", "--timesteps", "300"], capsys, TD3_PROG)  # fmt: skip
    assert f"{run} is in use by pid " in line and "run again with --resume" in line
    assert main([*td3_argv(run), "--resume", "--timesteps", "300"]) == 0  # the holder gone: fine


@fault
def test_a_second_her_resume_is_refused_while_the_first_runs(her_run, tmp_path, capsys) -> None:
    from baselines.her.__main__ import main

    run = copy_run(her_run, tmp_path)
    line = _held_elsewhere(run, main, [*her_argv(run, 200), "--resume"], capsys, HER_PROG)
    assert f"{run} is in use by pid " in line


@fault
def test_a_plangan_resume_is_refused_while_another_holds_the_folder(tmp_path, capsys) -> None:
    pytest.importorskip("torch")
    from baselines.plangan.__main__ import main

    run = tmp_path / "run"
    argv = ["--env", "FetchPush-v4", "--preset", "smoke", "--seed", "3", "--no-progress",
            "--verbose", "0", "--out", str(run)]  # fmt: skip
    run.mkdir()
    with folder_lock(run):
        assert main(argv) == 2
    assert "is in use by pid" in error_line(capsys, "python -m baselines.plangan")
    assert [p.name for p in run.iterdir()] == [".lock"]  # the new run wrote nothing


@fault
def test_a_failed_start_leaves_no_folder_and_no_lock(tmp_path) -> None:
    out = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError), run_folder_lock(out):
        raise RuntimeError("the set-up failed")
    assert not out.exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file, not a folder"), run_folder_lock(tmp_path / "file"):  # fmt: skip
        pass


@fault
def test_swarm_heuristic_record_and_train_take_the_folder_lock(tmp_path, capsys) -> None:
    from baselines.swarm_heuristic import record, train

    data = tmp_path / "data"
    data.mkdir()
    with folder_lock(data):
        assert record.main(["--preset", "smoke", "--out", str(data)]) == 2
    assert "is in use by pid" in capsys.readouterr().err
    assert [p.name for p in data.iterdir()] == [".lock"]
    weights = tmp_path / "net"
    weights.mkdir()
    with folder_lock(weights):
        assert train.main(["--data", str(data), "--out", str(weights)]) == 2
    assert "is in use by pid" in capsys.readouterr().err
