"""``--resume``: a SIGKILLed run continues from its last checkpoint, not from step 0."""

from __future__ import annotations

import csv
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from stable_baselines3.common.save_util import load_from_zip_file

from baselines.her.__main__ import main

REPO = Path(__file__).resolve().parents[2]
ENV = "FetchReach-v4"  # gymnasium-robotics: independent of the env suite, fast
FAST = [
    "--preset",
    "single",
    "--gradient-steps",
    "4",
    "--batch-size",
    "32",
    "--eval-episodes",
    "2",
    "--no-video",
]


def _argv(out: Path, timesteps: int) -> list[str]:
    return [
        "--env", ENV, "--timesteps", str(timesteps), "--out", str(out), "--seed", "3",
        "--eval-freq", "100", "--checkpoint-freq", "200", "--no-progress", *FAST,
    ]  # fmt: skip


def _kill_after_first_checkpoint(out: Path) -> int:
    """Start a long run in a subprocess, SIGKILL it once a checkpoint exists; return its step."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "baselines.her", *_argv(out, 100_000)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    latest = out / "checkpoints" / "latest.json"
    deadline = time.monotonic() + 90
    try:
        while not latest.exists():
            if proc.poll() is not None:
                pytest.fail(f"training process died: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint within 90 s")
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return int(json.loads(latest.read_text())["step"])


def test_killed_run_resumes_from_its_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    ckpt_step = _kill_after_first_checkpoint(out)
    assert ckpt_step >= 200
    assert not (out / "summary.json").exists()  # the run did not finish
    ckpt_dir = out / "checkpoints" / f"step_{ckpt_step:010d}"
    with open(ckpt_dir / "replay_buffer.pkl", "rb") as handle:
        assert pickle.load(handle).size() * 2 == ckpt_step  # 2 envs

    total = ckpt_step + 200
    assert main([*_argv(out, total), "--resume", "--verbose", "1"]) == 0
    assert f"from checkpoint step_{ckpt_step:010d} ({ckpt_step} steps)" in capsys.readouterr().err

    summary = json.loads((out / "summary.json").read_text())
    first, second = summary["sessions"]
    assert first["start_timesteps"] == 0 and first["end_timesteps"] == ckpt_step
    assert second["start_timesteps"] == ckpt_step and second["end_timesteps"] == total
    assert summary["num_timesteps"] == total

    # The HER buffer was restored: it holds the killed session's transitions plus the new ones.
    with open(out / "checkpoints" / f"step_{total:010d}" / "replay_buffer.pkl", "rb") as handle:
        assert pickle.load(handle).size() * 2 == total

    # Evaluations before the checkpoint are kept, later ones of the killed process rolled back;
    # the resumed session continues the schedule: every 100 steps, each step once.
    with open(out / "metrics.csv") as handle:
        steps = [int(r["timesteps"]) for r in csv.DictReader(handle)]
    assert steps == list(range(100, total + 1, 100))
    assert (out / "logs" / f"progress_from_{ckpt_step}.csv").exists()

    # The model continued: its updates count both sessions (4 per 100-step cycle after 100).
    data, _, _ = load_from_zip_file(out / "final_model.zip", device="cpu")
    assert data["num_timesteps"] == total
    assert data["_n_updates"] == 4 * (total // 100 - 1)


def test_resume_with_other_settings_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_argv(out, 200)) == 0
    code = main([*_argv(out, 400), "--resume", "--algo", "td3"])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot --resume" in err and "--algo: run has 'ddpg', now 'td3'" in err
    assert main(_argv(out, 400)) == 2  # without --resume the finished run is not overwritten
    assert "already holds a run" in capsys.readouterr().err


def test_damaged_or_incomplete_checkpoints_stop_resume_and_name_the_file(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_argv(out, 200)) == 0
    (ckpt_dir,) = (out / "checkpoints").glob("step_*")
    metrics_before = (out / "metrics.csv").read_text()
    # the normaliser is part of the run: without it the resumed run would silently differ
    vecnorm = ckpt_dir / "vecnormalize.pkl"
    saved = vecnorm.read_bytes()
    vecnorm.unlink()
    assert main([*_argv(out, 400), "--resume"]) == 2
    assert "vecnormalize.pkl: missing" in capsys.readouterr().err
    vecnorm.write_bytes(saved[: len(saved) // 2])
    assert main([*_argv(out, 400), "--resume"]) == 2
    assert "vecnormalize.pkl: damaged" in capsys.readouterr().err
    vecnorm.write_bytes(saved)
    # a lost latest.json is rebuilt from the complete checkpoint, and the run continues from it
    (out / "checkpoints" / "latest.json").unlink()
    assert (out / "metrics.csv").read_text() == metrics_before  # nothing was overwritten so far
    assert main([*_argv(out, 400), "--resume", "--verbose", "1"]) == 0
    assert "from checkpoint step_0000000200 (200 steps)" in capsys.readouterr().err
