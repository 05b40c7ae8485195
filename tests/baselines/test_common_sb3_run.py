"""SB3Run, the resume skeleton of the Stable-Baselines3 runners: what its set-up hands the runner,
and what it refuses. (The runners' own tests train through it: test_her_*, test_td3_demos.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("stable_baselines3")

from baselines.common.runfolder import prepare_run_folder
from baselines.common.sb3_run import SB3Run

CONFIG = {"env": "X", "lr": 1e-3, "seed": 3, "timesteps": 500, "resume": False}
MAY_CHANGE = ("timesteps", "resume")


class StopSetUp(Exception):
    """Ends a set-up on purpose, once the test has looked at it."""


def _run(out: Path, resume: bool, timesteps: int = 500, messages: list[str] | None = None) -> SB3Run:  # fmt: skip
    def log(message: str, verbose: int = 1) -> None:
        if messages is not None:
            messages.append(message)

    return SB3Run(
        out, {**CONFIG, "timesteps": timesteps, "resume": resume}, seed=3, resume=resume,
        resume_may_change=MAY_CHANGE, timesteps=timesteps, checkpoint_freq=100, verbose=1,
        log=log,
    )  # fmt: skip


def _checkpointed_run(out: Path, step: int, state: dict[str, Any]) -> None:
    """A run folder whose store holds one checkpoint at ``step`` (as a killed run leaves it)."""
    prepare_run_folder(out, CONFIG, resume=False)
    _run(out, resume=False).store.save(step, {"model.zip": lambda f: f.write(b"weights")}, state)


def test_a_resumed_set_up_starts_where_the_checkpoint_ended(tmp_path: Path) -> None:
    out = tmp_path / "run"
    rows = [{"timesteps": 100}, {"timesteps": 200}]
    _checkpointed_run(out, 200, {"eval_history": rows, "wall_time_s": 12.5, "sessions": [1]})
    messages: list[str] = []
    run = _run(out, resume=True, messages=messages)
    with pytest.raises(StopSetUp), run.setting_up() as ckpt:
        assert ckpt is not None and ckpt.step == 200 and run.start == 200
        assert run.history == rows and run.state["sessions"] == [1]
        assert 12.5 <= run.clock.total() < 60
        raise StopSetUp
    assert messages == [f"resuming {out} from checkpoint step_0000000200 (200 steps)"]


def test_a_new_set_up_starts_at_zero_and_a_failed_one_leaves_no_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = _run(out, resume=False)
    with pytest.raises(StopSetUp), run.setting_up() as ckpt:
        assert ckpt is None and run.start == 0 and run.history == [] and run.state == {}
        assert (out / "config.json").is_file()
        raise StopSetUp
    assert not out.exists()


def test_a_set_up_without_a_model_is_refused_and_undone(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = _run(out, resume=False)
    with pytest.raises(RuntimeError, match=r"without attach\(model\)"), run.setting_up():
        pass
    assert not out.exists()
    with pytest.raises(RuntimeError, match="no model yet"):
        run.model  # noqa: B018


def test_a_total_below_the_checkpoint_is_refused_before_anything_is_written(tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "run"
    _checkpointed_run(out, 200, {"eval_history": [], "wall_time_s": 1.0})
    before = _contents(out)
    below = _run(out, resume=True, timesteps=100)
    with pytest.raises(ValueError, match="--timesteps 100 is below the checkpoint's 200 steps"), below.setting_up():  # fmt: skip
        pass
    assert _contents(out) == before


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
