"""TD3+demos: blending, the segment scheduler, the normaliser, demo folders, CLI and resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

import dexterous_gym  # noqa: F401
from baselines.common.trajectory import load_trajectory, save_trajectory
from baselines.td3_demos.__main__ import main
from baselines.td3_demos.demos import DemoFolderError, demo_states, load_demos
from baselines.td3_demos.normalizer import RunningSums
from baselines.td3_demos.wrappers import (
    DemoSegmentWrapper,
    DemoStates,
    PrevActionWrapper,
)

ENV = "PenSpin-v0"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory, random_demos) -> Path:
    """Two short PenSpin "demonstrations": random actions recorded as trajectory files."""
    return random_demos(tmp_path_factory.mktemp("demos"), ENV, 2, 5)


def _factory(beta: float = 0.7):
    return lambda seed: PrevActionWrapper(gym.make(ENV).unwrapped, beta)


def test_blending_executes_beta_mean_plus_rest_of_previous_action() -> None:
    env = PrevActionWrapper(gym.make(ENV).unwrapped, beta=0.7)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"observation", "prev_action"} and not obs["prev_action"].any()
    mu = np.full(20, 0.5)
    _, _, _, _, info = env.step(mu)
    np.testing.assert_allclose(info["executed_action"], 0.35)  # 0.7 * 0.5 + 0.3 * 0
    obs, _, _, _, info = env.step(np.full(20, -1.0))
    np.testing.assert_allclose(info["executed_action"], 0.7 * -1 + 0.3 * 0.35)
    np.testing.assert_allclose(obs["prev_action"], info["executed_action"])
    # the executed action is clipped to the action box
    env.reset(options={"prev_action": np.ones(20)})
    _, _, _, _, info = env.step(np.ones(20))
    np.testing.assert_allclose(info["executed_action"], 1.0)
    with pytest.raises(ValueError, match="beta must be a number in"):
        PrevActionWrapper(gym.make(ENV).unwrapped, beta=0.0)
    with pytest.raises(ValueError, match="action must have shape"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="action must be finite"):
        env.step(np.full(20, np.nan))


def test_segments_follow_the_probabilities_and_decay(demo_dir: Path) -> None:
    demos = demo_states(load_demos(demo_dir, ENV), ENV)
    wrapper = DemoSegmentWrapper(_factory(), demos, seed=3, p_demo=0.7, p_reset=0.2, decay=0.9)
    kinds = []
    for n in range(200):
        _, info = wrapper.reset()
        kinds.append(info["segment"])
        # decay applies before each segment after the first
        assert wrapper.p_demo == pytest.approx(0.7 * 0.9**n)
    early = kinds[:10]
    assert early.count("demo") >= 4  # p_demo is still ~0.5-0.7 here
    assert kinds[-50:].count("main") == 50  # the probabilities have decayed to ~0
    no_demos = DemoSegmentWrapper(_factory(), None, seed=0, p_demo=0.0, p_reset=0.0)
    assert {no_demos.reset()[1]["segment"] for _ in range(20)} == {"main"}


def test_demo_segment_starts_at_a_demo_state_with_the_preceding_demo_action(demo_dir: Path) -> None:  # fmt: skip
    trajectories = load_demos(demo_dir, ENV)
    demos = demo_states(trajectories, ENV)
    assert len(demos) == 2 * 6  # every state, start states included
    np.testing.assert_array_equal(demos.prev_actions[0], 0.0)  # a demo's start: zero
    np.testing.assert_array_equal(demos.prev_actions[3], trajectories[0].actions[2])
    wrapper = DemoSegmentWrapper(_factory(), demos, seed=0, p_demo=1.0, p_reset=0.0)
    obs, info = wrapper.reset()
    assert info["segment"] == "demo"
    state = wrapper.envs["demo"].unwrapped.get_state()
    (k,) = np.flatnonzero((demos.states == state).all(axis=1))
    np.testing.assert_array_equal(obs["prev_action"], demos.prev_actions[k])


def test_segments_end_with_truncation_and_the_main_episode_continues() -> None:
    wrapper = DemoSegmentWrapper(_factory(), None, seed=0, p_demo=0.0, p_reset=0.0, segment_steps=4, episode_steps=10)  # fmt: skip
    obs, _ = wrapper.reset()
    for t in range(4):
        obs, _, terminated, truncated, _ = wrapper.step(np.zeros(20))
        assert not terminated and truncated == (t == 3)
    # the next main segment resumes from the true current observation (not the first one)
    resumed, _ = wrapper.reset()
    np.testing.assert_array_equal(resumed["observation"], obs["observation"])
    for _ in range(6):
        *_, truncated, _ = wrapper.step(np.zeros(20))
    assert truncated and wrapper.main_t == 10  # episode end; the next main segment resets
    restarted, _ = wrapper.reset()
    assert wrapper.main_t == 0 and not restarted["prev_action"].any()


def test_snapshot_restore_continues_identically(demo_dir: Path) -> None:
    demos = demo_states(load_demos(demo_dir, ENV), ENV)
    a = DemoSegmentWrapper(_factory(), demos, seed=1, segment_steps=3)
    a.reset()
    for _ in range(7):
        a.step(np.full(20, 0.2))
        if a.segment_t == 3:
            a.reset()
    b = DemoSegmentWrapper(_factory(), demos, seed=99, segment_steps=3)
    b.restore(a.snapshot())
    for _ in range(12):
        ra, rb = a.step(np.full(20, -0.1)), b.step(np.full(20, -0.1))
        np.testing.assert_array_equal(ra[0]["observation"], rb[0]["observation"])
        assert ra[1] == rb[1] and ra[3] == rb[3]
        if ra[3]:
            np.testing.assert_array_equal(a.reset()[0]["observation"], b.reset()[0]["observation"])


def test_normaliser_statistics_follow_the_her_rule() -> None:
    sums = RunningSums((2,), recompute_every=3)
    rows = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])
    for row in rows[:2]:
        sums.update(row[None])
    np.testing.assert_array_equal(sums.mean, 0.0)  # not recomputed yet
    sums.update(rows[2][None])
    # the count starts at 1: n = 4 for three rows
    np.testing.assert_allclose(sums.mean, rows.sum(0) / 4)
    var = (rows**2).sum(0) / 4 - (rows.sum(0) / 4) ** 2
    np.testing.assert_allclose(sums.std, np.sqrt(np.maximum(var, 0.01**2)))


def test_bad_demo_folders_fail_before_training(tmp_path: Path, demo_dir: Path, capsys, random_demos) -> None:  # fmt: skip
    out = tmp_path / "run"
    args = ["--preset", "smoke", "--out", str(out), "--no-video", "--no-progress"]
    assert main([*args, "--demos", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([*args, "--demos", str(tmp_path / "empty")]) == 2
    assert "holds no trajectory files" in capsys.readouterr().err
    other = random_demos(tmp_path / "other", "EggHandOver-v0", 1, 2)
    assert main([*args, "--demos", str(other)]) == 2
    assert "is a trajectory of EggHandOver-v0, not of PenSpin-v0" in capsys.readouterr().err
    relabelled = tmp_path / "relabelled"  # a sidecar naming another env than its arrays'
    shutil.copytree(demo_dir, relabelled)
    meta = json.loads((relabelled / "demo_0.json").read_text())
    (relabelled / "demo_0.json").write_text(json.dumps({**meta, "env_id": "EggHandOver-v0"}))
    assert main([*args, "--demos", str(relabelled)]) == 2
    assert (
        "demo_0.npz: its states have 349 entries, but the sidecar's env EggHandOver-v0 has states of 628"
        in capsys.readouterr().err
    )
    damaged = tmp_path / "damaged"
    shutil.copytree(demo_dir, damaged)
    (damaged / "demo_1.npz").write_bytes(b"garbage")
    assert main([*args, "--demos", str(damaged)]) == 2
    assert "demo_1.npz: damaged" in capsys.readouterr().err
    # states the env refuses (here a pen quaternion that is not a unit one) are named before
    # the first step, not after the first evaluation
    unnormalised = tmp_path / "unnormalised"
    shutil.copytree(demo_dir, unnormalised)
    traj = load_trajectory(unnormalised / "demo_1.npz")
    states = traj.states.copy()
    states[2, 1 + 24 + 3 : 1 + 24 + 7] *= 2.0  # time, 24 hand joints, pen position, pen quaternion
    arrays = {"start_state": states[0], "actions": traj.actions, "rewards": traj.rewards,
              "success": traj.success, "states": states}  # fmt: skip
    (unnormalised / "demo_1.npz").unlink()
    save_trajectory(unnormalised / "demo_1.npz", arrays, traj.meta)
    assert main([*args, "--demos", str(unnormalised)]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        len(err.splitlines()) == 1
        and "demo_1.npz: demo_1.npz states[2] is not a state of PenSpin-v0" in err
    )
    assert "must have norm 1" in err
    assert not out.exists()  # nothing was started
    with pytest.raises(SystemExit) as exc:
        main([*args, "--beta", "1.5"])
    assert exc.value.code == 2 and "--beta must be <= 1.0" in capsys.readouterr().err


def test_smoke_run_and_bit_identical_resume(tmp_path: Path, demo_dir: Path) -> None:
    from stable_baselines3 import TD3

    args = ["--preset", "smoke", "--demos", str(demo_dir), "--no-progress", "--verbose", "0"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--timesteps", "150", "--no-video"]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--timesteps", "300", "--resume", "--no-video"]) == 0  # fmt: skip
    a = TD3.load(tmp_path / "a" / "final_model.zip").policy.state_dict()
    b = TD3.load(tmp_path / "b" / "final_model.zip").policy.state_dict()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    rows_a = (tmp_path / "a" / "metrics.csv").read_text().splitlines()
    rows_b = (tmp_path / "b" / "metrics.csv").read_text().splitlines()
    # every column but the last (wall time) is identical
    assert [r.rsplit(",", 1)[0] for r in rows_a] == [r.rsplit(",", 1)[0] for r in rows_b]
    assert [int(r.split(",")[0]) for r in rows_a[1:]] == [0, 150, 300]
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["algorithm"] == "TD3+demos" and summary["num_timesteps"] == 300
    assert (tmp_path / "a" / summary["video"]).exists()
    # the rollout command replays the final evaluation episode: same start, policy, normaliser
    from baselines.td3_demos.rollout import policy_rollout

    replay = policy_rollout(tmp_path / "a")
    final_eval = float(rows_a[-1].split(",")[3])  # mean_return of the one evaluation episode
    assert replay["steps"] == 20 and replay["return"] == pytest.approx(final_eval, abs=1e-4)
    assert replay["last_rewarded_step"] <= 20 and len(replay["rewards"]) == 20
    # filmed: every step, and a GIF excerpt of every 4th frame of the first 8 steps
    import imageio.v3 as iio

    from baselines.td3_demos.rollout import main as rollout_main

    video, gif = tmp_path / "rollout.gif", tmp_path / "excerpt.gif"
    argv = [str(tmp_path / "a"), "--steps", "12", "--video", str(video), "--gif", str(gif)]
    assert rollout_main([*argv, "--gif-steps", "8", "--gif-every", "4"]) == 0
    assert len(iio.imread(video)) == 13 and len(iio.imread(gif)) == 3  # steps 0, 4, 8
    with pytest.raises(SystemExit) as exc:
        rollout_main([str(tmp_path / "a"), str(tmp_path / "a"), "--video", str(video)])
    assert exc.value.code == 2
    assert load_trajectory(demo_dir / "demo_0.npz").meta["env_id"] == ENV
    assert isinstance(demo_states(load_demos(demo_dir, ENV), ENV), DemoStates)
    with pytest.raises(DemoFolderError):
        load_demos(tmp_path, ENV)


def test_resume_refuses_demonstrations_changed_since_the_start(tmp_path: Path, demo_dir: Path, random_demos, capsys) -> None:  # fmt: skip
    demos = tmp_path / "demos"
    shutil.copytree(demo_dir, demos)
    args = ["--preset", "smoke", "--no-progress", "--verbose", "0", "--no-video",
            "--out", str(tmp_path / "run"), "--demos", str(demos)]  # fmt: skip
    assert main([*args, "--timesteps", "150"]) == 0
    record = json.loads((tmp_path / "run" / "demos.json").read_text())
    assert record["demos"] == str(demos) and len(record["sha256"]) == 64
    # the same folder, other contents: a trajectory replaced by one of another seed
    other = random_demos(tmp_path / "other", ENV, 3, 5)
    for suffix in (".npz", ".json"):
        shutil.copy(other / f"demo_2{suffix}", demos / f"demo_1{suffix}")
    before = (tmp_path / "run" / "metrics.csv").read_text()
    assert main([*args, "--timesteps", "300", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "the demonstrations differ from the ones" in err and "(sha256 differ;" in err
    assert (tmp_path / "run" / "metrics.csv").read_text() == before
    for suffix in (".npz", ".json"):  # put them back: the run continues
        shutil.copy(demo_dir / f"demo_1{suffix}", demos / f"demo_1{suffix}")
    assert main([*args, "--timesteps", "300", "--resume"]) == 0


def test_the_shipped_demos_are_recorded_without_a_machine_path() -> None:
    from baselines.td3_demos.demos import demos_record, shipped_demos

    folder = shipped_demos(ENV)
    assert demos_record(folder, load_demos(folder, ENV))["demos"] == f"shipped:{ENV}"


def test_pack_demos_compresses_and_never_overwrites(tmp_path: Path, demo_dir: Path) -> None:
    from baselines.td3_demos.demos import pack_demos

    (tmp_path / "packed").mkdir()
    written = pack_demos([demo_dir], tmp_path / "packed", ENV)
    assert sorted(p.name for p in written) == ["random_seed0.npz", "random_seed1.npz"]
    for path in written:
        packed, original = load_trajectory(path), load_trajectory(demo_dir / f"demo_{path.stem[-1]}.npz")  # fmt: skip
        np.testing.assert_array_equal(packed.states, original.states)
        assert packed.meta == original.meta
    with pytest.raises(DemoFolderError, match="exists already"):
        pack_demos([demo_dir], tmp_path / "packed", ENV)


def test_shipped_penspin_demos_load_and_replay() -> None:
    from baselines.td3_demos.demos import describe_demos, shipped_demos

    trajectories = load_demos(shipped_demos(ENV), ENV)
    assert len(trajectories) >= 4
    # what they are shipped for: states with the pen in the hand (the earlier set, planned without
    # the drop penalty, had a pen end below z = 0.12 within 6-18 steps of each demonstration)
    held = [s.pen_lost_at if s.pen_lost_at is not None else s.steps for s in describe_demos(shipped_demos(ENV), ENV)]  # fmt: skip
    assert sum(held) >= 0.5 * 250 * len(held)
    env = gym.make(ENV).unwrapped
    for traj in trajectories:
        assert traj.actions.shape == (250, 20) and traj.meta["planner"] == "topdm"
        env.reset(options={"state": traj.states[0], "keep_step_count": True})
        for t in range(5):  # the first steps replay exactly on this machine's MuJoCo
            _, reward, _, _, _ = env.step(traj.actions[t])
            assert reward == traj.rewards[t]
            np.testing.assert_array_equal(env.get_state(), traj.states[t + 1])
