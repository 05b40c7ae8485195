"""HER+demos: HER on a sparse goal env with TD3+demos' demo-state segments (``--demos``)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

import dexterous_gym  # noqa: F401
from baselines.her.__main__ import main
from baselines.her.config import parse_args
from baselines.her.plappert import ClipObservation
from baselines.her.train import load_demo_states, make_segment_envs

ENV = "EggHandOverSparse-v0"
DENSE = "EggHandOver-v0"  # demonstrations are planned on the dense task; its states serve both
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
FAST += ["--no-progress", "--verbose", "0", "--eval-freq", "150", "--checkpoint-freq", "150"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory, random_demos) -> Path:
    """Two short EggHandOver-v0 "demonstrations" (random actions) as trajectory files."""
    return random_demos(tmp_path_factory.mktemp("demos"), DENSE, 2, 6, success=0.0)


def _argv(out: Path, demo_dir: Path | list[Path], timesteps: int, *extra: str) -> list[str]:
    folders = [str(f) for f in (demo_dir if isinstance(demo_dir, list) else [demo_dir])]
    return ["--env", ENV, "--timesteps", str(timesteps), "--out", str(out), "--seed", "2",
            "--demos", *folders, "--p-demo", "0.6", "--p-reset", "0.3", *FAST, *extra]  # fmt: skip


def _exit_code(argv: list[str]) -> int | str | None:
    """``main``'s status: parse errors exit (argparse), later set-up errors are returned."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _scheduler(out: Path, step: int) -> list[dict]:
    with open(out / "checkpoints" / f"step_{step:010d}" / "scheduler.pkl", "rb") as handle:
        return pickle.load(handle)


def test_her_trains_on_segments_relabelled_within_each_segment(tmp_path: Path, demo_dir: Path) -> None:  # fmt: skip
    out = tmp_path / "run"
    second = tmp_path / "more_demos"  # several folders pool their trajectories
    second.mkdir()
    for path in demo_dir.glob("demo_0.*"):
        (second / path.name).write_bytes(path.read_bytes())
    assert main(_argv(out, [demo_dir, second], 300)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_timesteps"] == 300
    assert summary["demos"]["n_trajectories"] == 3 and summary["demos"]["n_states"] == 21
    assert json.loads((out / "demos.json").read_text()) == summary["demos"]
    with open(out / "checkpoints" / "step_0000000300" / "replay_buffer.pkl", "rb") as handle:
        buffer = pickle.load(handle)
    # every HER episode is one segment: at most 15 steps, so relabelled goals stay in it
    lengths = buffer.ep_length[: buffer.size()]
    assert lengths.max() <= 15 and (lengths > 0).all()
    assert "prev_action" in buffer.observations  # the previous-action input of TD3+demos
    # both envs drew segments from the scheduler, with the probabilities decayed per segment
    for snapshot in _scheduler(out, 300):
        assert snapshot["n_segments"] >= 300 // 2 // 15
        assert snapshot["p_demo"] == pytest.approx(0.6 * 0.999996 ** (snapshot["n_segments"] - 1))
    # the policy was trained on the relabelled rewards of the goal env
    rows = (out / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3  # header + evaluations at 150 and 300


def test_resume_continues_the_schedulers(tmp_path: Path, demo_dir: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(_argv(out, demo_dir, 150)) == 0
    before = _scheduler(out, 150)
    assert main([*_argv(out, demo_dir, 300), "--resume"]) == 0
    after = _scheduler(out, 300)
    for old, new in zip(before, after, strict=True):
        assert new["n_segments"] > old["n_segments"]  # continued, not restarted at 0.6
        assert new["p_demo"] == pytest.approx(0.6 * 0.999996 ** (new["n_segments"] - 1))
    (out / "checkpoints" / "step_0000000300" / "scheduler.pkl").write_bytes(b"garbage")
    assert main([*_argv(out, demo_dir, 450), "--resume"]) == 2
    assert "scheduler.pkl: damaged" in capsys.readouterr().err


def test_plappert_preset_takes_demos_and_clips_every_segment_observation(tmp_path: Path, demo_dir: Path) -> None:  # fmt: skip
    # the full schedule with demo-state segments: HER alone and HER+demos can share a preset
    out = tmp_path / "run"
    argv = _argv(out, demo_dir, 150, "--preset", "plappert", "--n-envs", "2")
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["random_eps"], config["obs_clip"], config["action_l2"]) == (0.3, 200.0, 1.0)
    # a bound small enough to bind: every observation a segment env returns is clipped, those
    # of restarts from demo states too; the previous action passes unchanged
    clipped = parse_args(_argv(tmp_path / "clip", demo_dir, 150, "--obs-clip", "0.05"))
    demos, _ = load_demo_states(clipped)
    assert demos is not None
    envs = make_segment_envs(clipped, demos, seed=0, episode_steps=75)
    assert all(envs.env_is_wrapped(ClipObservation))
    observations = [envs.reset()]
    for _ in range(40):  # segments of 15 steps: several restarts, from demo states with p 0.6
        observations.append(envs.step(np.ones((2, *envs.action_space.shape)))[0])
    restarts = sum(s["n_segments"] for s in envs.env_method("snapshot"))
    assert restarts >= 2 * 3
    for obs in observations:
        for key in ("observation", "achieved_goal", "desired_goal"):
            assert np.abs(obs[key]).max() <= 0.05
    assert max(np.abs(obs["prev_action"]).max() for obs in observations) == 1.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--p-demo", "0.5"], "--p-demo: only used with --demos DIR"),
        (["--demos", "/nonexistent/demos"], "--demos /nonexistent/demos: no such folder"),
        (["--demos", "DEMOS", "--p-demo", "0.9"], "--p-demo + --p-reset must be <= 1"),
    ],
)
def test_demo_argument_errors(tmp_path: Path, demo_dir: Path, extra, message, capsys) -> None:
    extra = [str(demo_dir) if e == "DEMOS" else e for e in extra]
    out = tmp_path / "run"
    argv = ["--env", ENV, "--timesteps", "100", "--out", str(out), *extra]
    assert _exit_code(argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_demos_of_another_env_are_refused(tmp_path: Path, capsys, random_demos) -> None:
    folder = random_demos(tmp_path / "pen_demos", "PenSpin-v0", 1, 2)
    out = tmp_path / "run"
    assert main(["--env", ENV, "--timesteps", "100", "--out", str(out), "--demos", str(folder)]) == 2  # fmt: skip
    assert "is a trajectory of PenSpin-v0, not of EggHandOverSparse-v0" in capsys.readouterr().err
    assert not out.exists()
