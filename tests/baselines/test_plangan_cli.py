"""PlanGAN's command line: the smoke preset, the run folder, and bit-identical resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from baselines.common.checkpoint import CheckpointStore
from baselines.common.runfolder import METRICS_FIELDS
from baselines.plangan.__main__ import main

ARGS = ["--env", "FetchPush-v4", "--preset", "smoke", "--seed", "3", "--no-progress", "--verbose", "0"]  # fmt: skip


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "wall_time_s"} for row in csv.DictReader(handle)]  # fmt: skip


def _final_state(run: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())["checkpoint"]
    folder = run / "checkpoints" / latest
    model = torch.load(folder / "model.pt", weights_only=False)
    with np.load(folder / "buffer.npz") as data:
        buffer = {k: data[k] for k in data.files}
    return model, buffer


def _assert_same(a: Any, b: Any) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plangan") / "full"
    assert main([*ARGS, "--out", str(out)]) == 0
    return out


def test_smoke_run_writes_the_run_folder(full_run: Path) -> None:
    config = json.loads((full_run / "config.json").read_text())
    assert config["algorithm"] == "PlanGAN" and config["preset"] == "smoke"
    with open(full_run / "metrics.csv", newline="") as handle:
        assert tuple(next(csv.reader(handle))) == METRICS_FIELDS
    rows = _rows(full_run)
    assert len(rows) >= 2 and int(rows[-1]["timesteps"]) == 60  # 4 random + 2 planned x 10
    summary = json.loads((full_run / "summary.json").read_text())
    assert summary["num_env_transitions"] == 60 and summary["wasted_trajectories"] == 0
    # 6 initial; the first planned trajectory (10 steps) trains 5; the second takes the stored
    # phase-2 steps beyond big_trains_at x traj_len = 10: a full initial block of 6 instead
    assert summary["iterations"] == 6 + 5 + 6
    assert summary["video"] is None or (full_run / summary["video"]).exists()
    assert any((full_run / "logs").glob("events.out.tfevents*"))
    model, buffer = _final_state(full_run)
    assert {"gen", "disc", "osm", "opt_gen", "opt_disc", "opt_osm", "rng", "scalers"} <= set(model["model"])  # fmt: skip
    assert int(buffer["size"]) == 60


def test_resume_after_a_kill_continues_bit_identically(
    full_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "killed"
    save = CheckpointStore.save
    calls = {"n": 0}

    def save_then_die(self: CheckpointStore, *args: Any, **kwargs: Any) -> Path:
        path = save(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 4:  # killed mid-run, right after its 4th checkpoint
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(CheckpointStore, "save", save_then_die)
    assert main([*ARGS, "--out", str(out), "--no-video"]) == 130
    monkeypatch.setattr(CheckpointStore, "save", save)
    assert main([*ARGS, "--out", str(out), "--no-video", "--resume"]) == 0
    assert _rows(out) == _rows(full_run)
    model_a, buffer_a = _final_state(full_run)
    model_b, buffer_b = _final_state(out)
    _assert_same(model_a, model_b)
    _assert_same(buffer_a, buffer_b)


def test_bad_arguments_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert main(["--env", "FetchReach-v4", "--preset", "smoke", "--out", str(tmp_path / "x")]) == 2
    assert "FetchPush-v4" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
