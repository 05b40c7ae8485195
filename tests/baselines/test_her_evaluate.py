"""A finished HER run's final policy on many episodes (``python -m baselines.her.evaluate``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from baselines.her.__main__ import main as train_main
from baselines.her.evaluate import main

FAST = ["--gradient-steps", "4", "--batch-size", "32", "--eval-episodes", "10", "--no-video"]


@pytest.fixture(scope="module", params=["single", "plappert"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("her_eval") / request.param
    argv = ["--env", "FetchReach-v4", "--timesteps", "600", "--out", str(out), "--seed", "5",
            "--preset", request.param, "--n-envs", "2", "--eval-freq", "300", "--no-progress",
            "--verbose", "0", *FAST]  # fmt: skip
    assert train_main(argv) == 0
    return out


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def test_the_first_ten_episodes_are_the_runs_last_evaluation(run: Path, tmp_path: Path) -> None:
    before = _digest(run)
    table = tmp_path / "eval.md"
    assert main(["--runs", str(run), "--episodes", "10", "--out", str(table)]) == 0
    assert _digest(run) == before  # only read
    (row,) = json.loads(table.with_suffix(".json").read_text())
    final = json.loads((run / "summary.json").read_text())["final_eval"]
    assert row["timesteps"] == final["timesteps"] and row["episodes"] == 10
    for key in ("success_final", "success_any", "mean_return"):
        assert row[key] == pytest.approx(final[key])
    low, high = row["success_final_ci"]
    assert low <= row["success_final"] <= high and 0.0 <= low < high <= 1.0


def test_more_episodes_narrow_the_interval(run: Path, tmp_path: Path) -> None:
    assert main(["--runs", str(run), "--episodes", "40", "--out", str(tmp_path / "e.md")]) == 0
    (row,) = json.loads((tmp_path / "e.json").read_text())
    assert row["episodes"] == 40
    assert row["success_any_ci"][1] - row["success_any_ci"][0] < 0.5


def test_folders_that_are_not_finished_her_runs_are_refused(tmp_path: Path, capsys) -> None:
    assert main(["--runs", str(tmp_path)]) == 2
    assert f"--runs {tmp_path}: not a HER run folder (no config.json)" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(json.dumps({"runner": "baselines.plangan"}))
    assert main(["--runs", str(tmp_path)]) == 2
    assert "a run of 'baselines.plangan', not of baselines.her" in capsys.readouterr().err


def test_bad_arguments_exit_2_naming_them(capsys) -> None:
    for argv, message in ((["--episodes", "0"], "--episodes"), (["--out", "x.txt"], "--out: expected a .md file")):  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            main(["--runs", "somewhere", *argv])
        assert exc.value.code == 2 and message in capsys.readouterr().err
