"""TOPDM smoke run, resume equivalence, annealing table, and trajectory-file errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import dexterous_gym  # noqa: F401
from baselines.common.trajectory import TrajectoryFileError, load_trajectory, save_trajectory
from baselines.topdm.__main__ import main
from baselines.topdm.config import iterations_at, make_config, parse_overrides, simulated_steps
from baselines.topdm.run import run_trajectory

ENV = "EggHandOver-v0"


def test_annealing_matches_fact_sheet() -> None:
    for k0, length, first, total in [(20, 50, [50, 48, 46], 1010), (40, 50, [100, 96, 93], 2030), (80, 250, [200, 198, 197], 20020)]:  # fmt: skip
        assert [iterations_at(t, k0, length) for t in range(3)] == first
        assert sum(iterations_at(t, k0, length) for t in range(length)) == total


def test_presets() -> None:
    assert make_config("paper", ENV).k0 == 20 and make_config("paper", ENV).forget_frac == 0.0
    k40 = make_config("paper_k40", ENV)
    assert (k40.k0, k40.forget_frac) == (40, 0.3)
    assert make_config("paper", "TwoEggCatchUnderArm-v0").n_samples == 2000
    reduced = make_config("reduced", ENV)
    assert (reduced.n_samples, reduced.k0, reduced.horizon) == (200, 10, 20)
    with pytest.raises(ValueError, match="preset"):
        make_config("nope", ENV)
    campaign = make_config("campaign", ENV)
    assert (campaign.n_samples, campaign.k0, campaign.horizon, campaign.traj_len) == (
        100,
        4,
        20,
        50,
    )
    assert simulated_steps(campaign) == 192 * 100 * 20
    assert make_config("demos_spin", "PenSpin-v0").drop_penalty == 10.0
    assert simulated_steps(make_config("paper", ENV)) == 1010 * 1000 * 20  # 20.2 M, as the paper


def test_degenerate_schedules_are_refused_unless_allowed() -> None:
    from baselines.topdm.config import PRESETS, TopdmConfig

    # K0 = 3 anneals to K(t) = 1 (no elite resampling) on the late control steps
    with pytest.raises(
        ValueError, match=r"k0=3 gives K\(t\) = 1 iteration\(s\) at some control step"
    ):
        TopdmConfig(n_samples=100, k0=3)
    with pytest.raises(ValueError, match=r"k0=1 gives K\(t\) = 1"):
        TopdmConfig(n_samples=100, k0=1, anneal=False)
    # 40 samples x 0.05 = 2 elites (the old campaign preset)
    with pytest.raises(
        ValueError, match=r"n_samples=40 with frac_best=0.05 keeps 2 elite\(s\), fewer than 5"
    ):
        TopdmConfig(n_samples=40, k0=4)
    assert TopdmConfig(n_samples=40, k0=3, allow_degenerate=True).n_elites == 2
    TopdmConfig(n_samples=100, k0=4)  # the smallest sound schedule: K(t) >= 2, 5 elites
    for name in PRESETS:  # every preset but the test-only smoke is sound by itself
        assert make_config(name, ENV).allow_degenerate == (name == "smoke")


def test_drop_penalty_shapes_the_score_only_where_the_pen_is_low() -> None:
    from baselines.topdm.config import TopdmConfig
    from baselines.topdm.planner import score
    from dexterous_gym.rollout import RolloutResult

    rewards = np.array([[1.0, 1.0], [1.0, 1.0]])
    z_bottom = np.array([[0.2, 0.2], [0.2, 0.05]])  # the second sequence drops one end at step 2
    z_top = np.array([[0.2, 0.2], [0.1, 0.05]])
    result = RolloutResult(rewards, None, None, None, None, {"z_bottom": z_bottom, "z_top": z_top})
    plain = TopdmConfig(n_samples=100, k0=4)
    np.testing.assert_array_equal(score(result, plain), [2.0, 2.0])
    penalised = TopdmConfig(n_samples=100, k0=4, drop_penalty=10.0)
    np.testing.assert_array_equal(score(result, penalised), [2.0, 2.0 - 10.0 - 20.0])
    with pytest.raises(ValueError, match="drop_penalty needs the pen's end heights"):
        score(RolloutResult(rewards, None, None, None, None, {"d_pos": rewards}), penalised)


def test_set_overrides_are_typed_and_checked() -> None:
    assert parse_overrides(("later_noise_frac=1.0", "k0=4", "anneal=false")) == {
        "later_noise_frac": 1.0,
        "k0": 4,
        "anneal": False,
    }
    for bad, match in [("nope=1", "SETTING one of"), ("k0=1.5", "k0 must be a finite int"),
                       ("beta=nan", "beta must be a finite float"), ("anneal=maybe", "true or false"),
                       ("k0", "SETTING=VALUE")]:  # fmt: skip
        with pytest.raises(ValueError, match=match):
            parse_overrides((bad,))
    with pytest.raises(ValueError, match="later_noise_frac"):
        make_config("smoke", ENV, **parse_overrides(("later_noise_frac=2",)))


def test_cli_smoke(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["--env", ENV, "--preset", "smoke", "--out", str(out), "--no-video", "--threads", "1"]) == 0  # fmt: skip
    for name in ("config.json", "versions.json", "summary.json", "traj_000/trajectory.npz"):
        assert (out / name).exists(), name
    traj = load_trajectory(out / "traj_000" / "trajectory.npz")
    assert traj.actions.shape == (3, 40) and traj.states.shape[0] == 4
    assert traj.meta["env_id"] == ENV and traj.meta["versions"]["mujoco"]
    # replaying the stored actions from the stored states reproduces rewards and states
    import gymnasium as gym

    env = gym.make(ENV).unwrapped
    env.set_state(traj.start_state)
    for t in range(3):
        _, reward, _, _, info = env.step(traj.actions[t])
        assert reward == traj.rewards[t] and info["is_success"] == traj.success[t]
        np.testing.assert_array_equal(env.get_state(), traj.states[t + 1])
    # an occupied --out is a user mistake: one line, exit status 2, the finished run untouched
    assert main(["--env", ENV, "--preset", "smoke", "--out", str(out), "--no-video"]) == 2
    assert load_trajectory(out / "traj_000" / "trajectory.npz").actions.shape == (3, 40)


@pytest.mark.parametrize("mppi", [False, True])
def test_resume_reproduces_uninterrupted_run(tmp_path: Path, mppi: bool) -> None:
    # the resumed part runs on 2 threads, the reference on 1: plans must not depend on threads
    config = make_config("smoke", ENV)
    full = run_trajectory(ENV, config, 5, tmp_path / "a", mppi=mppi, n_threads=1, video=False)
    part = run_trajectory(ENV, config, 5, tmp_path / "b", mppi=mppi, n_threads=1, video=False, max_steps=1)  # fmt: skip
    assert part == {"completed_steps": 1, "finished": False}
    resumed = run_trajectory(ENV, config, 5, tmp_path / "b", mppi=mppi, resume=True, n_threads=2, video=False)  # fmt: skip
    assert resumed["return"] == full["return"]
    a = load_trajectory(tmp_path / "a" / "trajectory.npz")
    b = load_trajectory(tmp_path / "b" / "trajectory.npz")
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.states, b.states)


def _write(tmp_path: Path) -> Path:
    states = np.arange(12.0).reshape(3, 4)
    arrays = {
        "start_state": states[0],
        "actions": np.zeros((2, 5)),
        "rewards": np.zeros(2),
        "success": np.zeros(2),
        "states": states,
    }
    # the format checks, on small arrays: an env that is not a Dexterous Gym env has no state
    # layout to hold them against (a Dexterous Gym env's is checked: test_silent_cases.py)
    meta = {"env_id": "CartPole-v1", "goal": [0.0], "seed": 0, "config": {}, "planner": "topdm"}
    return save_trajectory(tmp_path / "t.npz", arrays, meta)


def test_loader_errors(tmp_path: Path) -> None:
    path = _write(tmp_path)
    assert load_trajectory(path).actions.shape == (2, 5)
    with pytest.raises(TrajectoryFileError, match="not found"):
        load_trajectory(tmp_path / "missing.npz")
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(TrajectoryFileError, match="format_version"):
        load_trajectory(path)
    sidecar.write_text(json.dumps({k: v for k, v in meta.items() if k != "env_id"}))
    with pytest.raises(TrajectoryFileError, match="missing"):
        load_trajectory(path)
    sidecar.write_text("{not json")
    with pytest.raises(TrajectoryFileError, match="damaged sidecar"):
        load_trajectory(path)
    sidecar.write_text(json.dumps(meta))
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(TrajectoryFileError, match="damaged"):
        load_trajectory(path)
    path = _write(tmp_path)
    with np.load(path) as data:
        arrays = dict(data)
    arrays["rewards"] = np.zeros(3)
    np.savez(path, **arrays)
    with pytest.raises(TrajectoryFileError, match="rewards has shape"):
        load_trajectory(path)


def test_report_table_plot_and_errors(tmp_path: Path, capsys) -> None:
    from baselines.topdm import report

    out = tmp_path / "run"
    assert main(["--env", ENV, "--preset", "smoke", "--out", str(out), "--no-video", "--threads", "1"]) == 0  # fmt: skip
    capsys.readouterr()
    assert report.main([str(out), "--plot", str(tmp_path / "fig.png"), "--out", str(tmp_path / "t.md")]) == 0  # fmt: skip
    table = (tmp_path / "t.md").read_text()
    row = json.loads((out / "traj_000" / "summary.json").read_text())
    assert f"| topdm | 0 | 3/3 | {'yes' if row['success_final'] else 'no'} |" in table
    assert f"{row['return']:.2f}" in table and (tmp_path / "fig.png").stat().st_size > 0
    # --video renders a trajectory file (when this machine has a GL backend)
    gif = tmp_path / "traj.gif"
    code = report.main(["--video", str(out / "traj_000" / "trajectory.npz"), str(gif)])
    if code == 0:
        from PIL import Image

        with Image.open(gif) as image:
            assert image.n_frames == 4 and image.size == (400, 200)
    else:
        assert code == 1 and "not written" in capsys.readouterr().err
    assert report.main(["--video", str(tmp_path / "missing.npz"), str(gif)]) == 2
    capsys.readouterr()
    # an unfinished trajectory is read from its checkpoint and marked
    (out / "traj_000" / "summary.json").unlink()
    table = report.markdown_table(report.collect([out]))
    assert "3/3 (unfinished)" in table
    # the throughput column is the simulated env steps over the wall time of the trajectory
    row = report.collect([out])[0]
    assert f"| {row['sim_steps'] / row['wall_s']:.0f} |" in table
    # a trajectory that has not completed a step yet is listed with 0 steps
    (tmp_path / "run2" / "traj_000").mkdir(parents=True)
    (tmp_path / "run2" / "config.json").write_text((out / "config.json").read_text())
    empty = report.markdown_table(report.collect([tmp_path / "run2"]))
    assert "| topdm | 0 | 0/3 (unfinished) | no |" in empty and empty.rstrip().endswith("| - |")
    # not a run folder, and a damaged checkpoint: exit 2 with the path in the message
    assert report.main([str(tmp_path)]) == 2
    assert "no traj_* folders" in capsys.readouterr().err
    (planner_state,) = (out / "traj_000" / "checkpoints").glob("step_*/planner_state.npz")
    planner_state.write_bytes(b"not an npz")
    assert report.main([str(out)]) == 2
    assert "damaged checkpoint" in capsys.readouterr().err


def test_mppi_weights_are_scale_free_when_normalised() -> None:
    from baselines.topdm.planner import mppi_weights

    scores = np.array([0.010, 0.012, 0.011, 0.020])
    w = mppi_weights(scores, 2.0, normalize=True)
    np.testing.assert_allclose(w, mppi_weights(1000.0 * scores + 7.0, 2.0, normalize=True))
    assert w.argmax() == 3 and w.max() == 1.0 and w.min() < 0.05
    # raw (textbook) form: on small scores exp(10 R) weights every sample about alike
    raw = mppi_weights(scores, 10.0, normalize=False)
    np.testing.assert_allclose(raw, np.exp(10.0 * (scores - scores.max())))
    assert raw.min() > 0.9
    np.testing.assert_array_equal(mppi_weights(np.full(5, 3.0), 2.0, normalize=True), np.ones(5))
    with pytest.raises(ValueError, match="mppi_gamma"):
        make_config("smoke", ENV, mppi_gamma=0.0)


def test_a_checkpoint_with_states_of_another_size_is_refused(tmp_path: Path) -> None:
    """States without their model tag (one entry short) are refused on resume, naming both sizes."""
    import hashlib
    import io
    import json

    from baselines.common.checkpoint import CheckpointError

    config = make_config("smoke", ENV)
    run_trajectory(ENV, config, 3, tmp_path / "b", n_threads=1, video=False, max_steps=1)
    (state,) = (tmp_path / "b" / "checkpoints").glob("step_*/planner_state.npz")
    with np.load(state) as data:
        arrays = {k: data[k] for k in data.files}
    size = arrays["states"].shape[1]
    arrays["states"] = arrays["states"][:, :-1]  # without the model tag
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    state.write_bytes(buffer.getvalue())
    # re-seal the manifest, as if the states had been short before they were checksummed
    manifest_path = state.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][state.name] = {"sha256": hashlib.sha256(buffer.getvalue()).hexdigest(), "bytes": len(buffer.getvalue())}  # fmt: skip
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=f"states have {size - 1} entries, {ENV}'s have {size}"):  # fmt: skip
        run_trajectory(ENV, config, 3, tmp_path / "b", resume=True, n_threads=1, video=False)


def test_resume_refuses_a_checkpoint_of_another_trajectory(tmp_path: Path) -> None:
    import shutil

    from baselines.common.checkpoint import CheckpointError

    config = make_config("smoke", ENV)
    run_trajectory(ENV, config, 1, tmp_path / "a", n_threads=1, video=False, max_steps=1)
    run_trajectory(ENV, config, 2, tmp_path / "b", n_threads=1, video=False, max_steps=1)
    shutil.rmtree(tmp_path / "b" / "checkpoints")
    shutil.copytree(tmp_path / "a" / "checkpoints", tmp_path / "b" / "checkpoints")
    with pytest.raises(CheckpointError, match="belongs to another run"):
        run_trajectory(ENV, config, 2, tmp_path / "b", resume=True, n_threads=1, video=False)


def test_resume_notices_a_damaged_finished_trajectory(tmp_path: Path) -> None:
    from baselines.common.checkpoint import CheckpointError

    config = make_config("smoke", ENV)
    run_trajectory(ENV, config, 1, tmp_path / "a", n_threads=1, video=False)
    npz = tmp_path / "a" / "trajectory.npz"
    npz.write_bytes(npz.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="finished but its file is damaged"):
        run_trajectory(ENV, config, 1, tmp_path / "a", resume=True, n_threads=1, video=False)
    assert npz.stat().st_size == 100  # nothing was overwritten


def test_a_pen_spin_trajectory_plans_with_the_drop_penalty(tmp_path: Path) -> None:
    config = make_config("smoke", "PenSpin-v0", drop_penalty=10.0, traj_len=3)
    summary = run_trajectory("PenSpin-v0", config, 0, tmp_path / "t", n_threads=1, video=False,
                             progress_bar=False)  # fmt: skip
    traj = load_trajectory(tmp_path / "t" / "trajectory.npz")
    assert summary["finished"] and traj.meta["config"]["drop_penalty"] == 10.0
    # the file's rewards are the env's own reward, not the planner's penalised score
    import gymnasium as gym

    env = gym.make("PenSpin-v0").unwrapped
    qpos = np.stack([_qpos_of(env, s) for s in traj.states[1:]])
    qvel = np.stack([_qvel_of(env, s) for s in traj.states[1:]])
    np.testing.assert_allclose(traj.rewards, env.evaluate(qpos, qvel, np.zeros(0)).reward)


def _qpos_of(env, state):
    env.set_state(state)
    return env.data.qpos.copy()


def _qvel_of(env, state):
    env.set_state(state)
    return env.data.qvel.copy()
