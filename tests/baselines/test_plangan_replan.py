"""Re-planning a PlanGAN run's evaluation goals with other planner budgets."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from baselines.plangan.__main__ import main as train_main
from baselines.plangan.envs import make_plangan_fetch
from baselines.plangan.replan import main
from baselines.plangan.train import EVAL_SEED, episode_seed

SEED = 4


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("replan") / "run"
    argv = ["--env", "FetchPush-v4", "--preset", "smoke", "--seed", str(SEED), "--out", str(out)]
    assert train_main([*argv, "--no-progress", "--verbose", "0", "--no-video"]) == 0
    return out


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_both_planners_replan_the_runs_goals_and_leave_the_run_as_it_was(run: Path, tmp_path: Path, capsys) -> None:  # fmt: skip
    before = _digest(run)
    table = tmp_path / "replan.md"
    argv = ["--runs", str(run), "--episodes", "6", "--out", str(table), "--no-progress"]
    assert main(argv) == 0
    assert _digest(run) == before  # only read
    rows = json.loads(table.with_suffix(".json").read_text())
    assert [(r["planner"], r["candidates"], r["copies"]) for r in rows] == [("short", 5, 20), ("paper", 25, 100)]  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    for r in rows:
        assert r["env_steps"] == summary["num_env_transitions"] and r["finished"]
        assert r["episodes"] == 6 and 0.0 <= r["success_final"] <= r["success_any"] <= 1.0
    # the floor is counted on the run's own evaluation goals
    env = make_plangan_fetch("push")
    solved = 0
    for j in range(6):
        obs = env.reset(seed=episode_seed(SEED, EVAL_SEED + j))[0]
        solved += int(np.linalg.norm(obs["achieved_goal"] - obs["desired_goal"]) < 0.05)
    assert all(r["started_solved"] == solved for r in rows)
    assert table.read_text() in capsys.readouterr().out
    # the same call gives the same numbers: every planner starts from the checkpoint's streams
    again = tmp_path / "again.md"
    assert main([*argv[:-3], "--out", str(again), "--no-progress"]) == 0
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert strip(json.loads(again.with_suffix(".json").read_text())) == strip(rows)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--planners", "huge"], "--planners: expected names of ['paper', 'short'], got ['huge']"),
        (["--episodes", "0"], "--episodes"),
        (["--out", "table.txt"], "--out: expected a .md file"),
    ],
)
def test_bad_arguments_exit_2_naming_them(run: Path, argv, message, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--runs", str(run), *argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_a_folder_that_is_not_a_plangan_run_is_refused(tmp_path: Path, capsys) -> None:
    assert main(["--runs", str(tmp_path), "--no-progress"]) == 2
    assert f"--runs {tmp_path}: not a PlanGAN run folder (no config.json)" in capsys.readouterr().err  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps({"runner": "baselines.her"}))
    assert main(["--runs", str(tmp_path), "--no-progress"]) == 2
    assert "a run of 'baselines.her', not of baselines.plangan" in capsys.readouterr().err
