"""PlanGAN: relabelling rules, loss signs, batched ensembles, the planner, env layouts."""

from __future__ import annotations

import dataclasses
from typing import Any, get_args

import mujoco
import numpy as np
import pytest
import torch

from baselines.plangan.buffer import ReplayBuffer
from baselines.plangan.config import PRESETS, PlanGANHyperparameters, PresetName, preset_values
from baselines.plangan.envs import (
    CUBE_SYMMETRIES,
    PlanGANFetchObservation,
    make_plangan_fetch,
    quat_mul,
    trajectory_kept,
)
from baselines.plangan.model import (
    PlanGAN,
    choose_action,
    discriminator_loss,
    generator_adversarial_loss,
    goal_fraction,
)
from baselines.plangan.networks import (
    EnsembleBatchNorm,
    EnsembleLinear,
    Scaler,
    by_member,
    scatter_rows,
)

torch.set_num_threads(1)
SMOKE = PlanGANHyperparameters(**preset_values("smoke", "push"))


def test_paper_preset_holds_the_experiment_files_and_smaller_presets_shrink_it() -> None:
    push = PlanGANHyperparameters(**preset_values("paper", "push"))
    pnp = PlanGANHyperparameters(**preset_values("paper", "pick_and_place"))
    assert (push.num_gans, push.num_osms, push.hidden, push.init_train_its) == (3, 3, (512, 512), 250_000)  # fmt: skip
    assert (push.extra_trajs, push.train_per_extra, push.big_trains_at) == (2000, 250, 1250)
    assert (push.plan_num_init_acs, push.plan_num_copies, push.plan_average_ac) == (25, 100, False)
    assert push.total_stored_budget == 112_500
    assert (pnp.extra_trajs, pnp.init_train_its, pnp.plan_average_ac, pnp.planner_osm_frac) == (3000, 100_000, True, 0.5)  # fmt: skip
    for kind, paper in (("push", push), ("pick_and_place", pnp)):
        for preset in ("reduced", "short"):
            hp = PlanGANHyperparameters(**preset_values(preset, kind))
            assert hp.total_stored_budget <= paper.total_stored_budget
            assert hp.init_train_its < paper.init_train_its
            # the networks and the loss terms stay the paper's
            for name in ("hidden", "latent_dim", "tau", "gan_model_l2", "l2_gen", "l2_osm"):
                assert getattr(hp, name) == getattr(paper, name)
    assert set(get_args(PresetName)) == set(PRESETS)  # the CLI offers exactly the presets
    with pytest.raises(ValueError, match="preset must be"):
        preset_values("tiny", "push")


def _index_buffer(lengths: tuple[int, ...] = (12, 9, 15)) -> ReplayBuffer:
    """Paths whose achieved goal of step k is (k, 0, 0): a goal names its buffer index."""
    buf = ReplayBuffer(100, 2, 1, 3)
    start = 0
    for n in lengths:
        k = np.arange(start, start + n, dtype=float)
        obs = np.stack([k, k], 1)
        buf.add_path(obs, np.zeros((n, 1)), obs + 1, np.stack([k, 0 * k, 0 * k], 1))
        start += n
    return buf


@pytest.mark.parametrize("random_future_goals", [True, False])
def test_relabelling_uses_later_steps_of_the_same_path(random_future_goals: bool) -> None:
    buf, tau = _index_buffer(), 4
    rng = np.random.default_rng(0)
    batch = buf.sample_gan(2000, tau, rng, random_future_goals, None, noise=1e-4)
    start = np.rint(batch.states[:, 0, 0]).astype(int)
    goals = np.rint(batch.goals[:, :, 0]).astype(int)
    end = buf.path_end[start]
    assert np.all(end - 1 - start >= tau)  # at least tau future indices
    assert np.all(goals[:, 0] > start) and np.all(goals <= (end - 1)[:, None])  # never the end
    np.testing.assert_allclose(batch.states[:, :, 0], start[:, None] + np.arange(tau + 1), atol=1e-3)  # fmt: skip
    assert 0 < np.abs(batch.goals[:, :, 0] - goals).max() < 1e-3  # the 1e-4 noise
    if random_future_goals:
        assert np.all(np.diff(goals, axis=1) >= 0)
        assert np.any(np.diff(goals, axis=1) > 0) and np.any(np.diff(goals, axis=1) == 0)
        counts = np.bincount(goals[:, 0] - start)  # the first goal can lie far beyond tau
        assert len(counts) > tau + 2
    else:
        near = goals[:, 0] - start < tau - 1
        expected = np.minimum(goals[:, :1] + np.arange(tau), (end - 1)[:, None])
        np.testing.assert_array_equal(goals[near], expected[near])
        assert np.all(goals[~near] == goals[~near, :1])


def test_filter_train_batch_rejects_goals_near_the_start() -> None:
    buf = ReplayBuffer(100, 2, 1, 3)
    ag = np.zeros((20, 3))
    ag[15:, 0] = 1.0  # the object moves only at step 15
    buf.add_path(np.zeros((20, 2)), np.zeros((20, 1)), np.zeros((20, 2)), ag)
    rng = np.random.default_rng(1)
    starts, first = buf.sample_gan_starts(500, 3, rng, filter_distance=0.01)
    assert np.all(np.linalg.norm(buf.ag[starts] - buf.ag[first], axis=1) >= 0.01)
    starts, first = buf.sample_gan_starts(500, 3, rng, filter_distance=None)
    assert np.any(np.linalg.norm(buf.ag[starts] - buf.ag[first], axis=1) < 0.01)


def test_loss_signs() -> None:
    real = torch.zeros(2, 4, requires_grad=True)
    fake = torch.zeros(2, 4, requires_grad=True)
    discriminator_loss(real, fake).backward()
    assert real.grad is not None and fake.grad is not None
    assert bool((real.grad > 0).all()) and bool((fake.grad < 0).all())  # real pushed down, fake up
    fake_g = torch.zeros(2, 4, requires_grad=True)
    generator_adversarial_loss(fake_g).backward()
    assert fake_g.grad is not None and bool(
        (fake_g.grad > 0).all()
    )  # the generator lowers its scores (toward the real ones)


def _model(**changes: object) -> PlanGAN:
    hp = dataclasses.replace(SMOKE, **changes)  # type: ignore[arg-type]
    model = PlanGAN(hp, 24, 4, 3, "cpu", seed=0)
    rng = np.random.default_rng(0)
    model.state_scaler = Scaler(rng.normal(size=24), rng.uniform(0.5, 2, 24))
    model.diff_scaler = Scaler(rng.normal(size=24) * 0.1, rng.uniform(0.1, 1, 24))
    model.goal_scaler = Scaler(np.zeros(3), np.ones(3))
    return model


def test_model_loss_averages_all_osms_and_reaches_only_the_generator() -> None:
    model = _model()
    E, B, tau = 2, 5, 3
    states = torch.randn(E, B, tau + 1, 24, requires_grad=True)
    actions = torch.rand(E, B, tau, 4) * 2 - 1
    loss = model.model_loss(states, actions)
    s, d = model.state_scaler, model.diff_scaler
    assert s is not None and d is not None
    x = states[:, :, :-1].reshape(1, -1, 24).expand(2, -1, -1)
    a = actions.reshape(1, -1, 4).expand(2, -1, -1)
    pred = model.osm(x, a).mean(0).reshape(E, B, tau, 24)
    target = d.transform(s.inverse(states[:, :, 1:]) - s.inverse(states[:, :, :-1]))
    expected = sum(((pred[e] - target[e]) ** 2).mean() for e in range(E))
    torch.testing.assert_close(loss, expected)
    model.osm.zero_grad()
    loss.backward()
    assert states.grad is not None and states.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.osm.parameters())  # OSM weights are not trained


def test_ensemble_is_the_members_run_one_by_one() -> None:
    torch.manual_seed(0)
    layer = EnsembleLinear(3, 5, 7)
    x = torch.randn(3, 4, 5)
    single = [torch.nn.functional.linear(x[e], layer.weight[e], layer.bias[e, 0]) for e in range(3)]
    torch.testing.assert_close(layer(x), torch.stack(single))
    assign = torch.tensor([2, 0, 2, 1, 0, 2, 2])
    rows = torch.randn(7, 5)
    (grouped,), index, mask = by_member(3, assign, rows)
    out = scatter_rows(layer(grouped), index, mask, 7)
    for i in range(7):
        e = int(assign[i])
        torch.testing.assert_close(out[i], torch.nn.functional.linear(rows[i], layer.weight[e], layer.bias[e, 0]))  # fmt: skip


def test_ensemble_batch_norm_is_per_member_in_both_modes() -> None:
    torch.manual_seed(1)
    bn = EnsembleBatchNorm(3, 8)
    x = torch.randn(3, 16, 8) * torch.arange(1, 4).view(3, 1, 1)
    out = bn(x)
    for e in range(3):  # training: each member normalised over its own batch
        torch.testing.assert_close(out[e], torch.nn.functional.batch_norm(x[e], None, None, training=True))  # fmt: skip
    bn(x * 2 + 1)
    bn.eval()
    ref = bn.norm(x.transpose(0, 1).reshape(16, 24)).reshape(16, 3, 8).transpose(0, 1)
    torch.testing.assert_close(bn(x), ref)  # eval: the running statistics of each member


def test_goal_fraction_and_choice() -> None:
    positions = torch.zeros(4, 2, 3)
    positions[1:, 0] = 1.0  # rollout 0 at the goal only in the first of 4 states
    frac = goal_fraction(positions, torch.zeros(3), tol=0.05)
    torch.testing.assert_close(frac, torch.tensor([0.25, 1.0]))
    cands = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    scores = torch.tensor([0.2, 0.6, 0.6])
    torch.testing.assert_close(choose_action(cands, scores, average=False, alpha=5.0), cands[1])
    s = scores.numpy()
    z = (s - s.mean()) / (s.std() + 1e-4)
    w = np.exp(5.0 * (z - z.max()))
    expected = (w[:, None] * cands.numpy()).sum(0) / w.sum()
    np.testing.assert_allclose(choose_action(cands, scores, average=True, alpha=5.0).numpy(), expected, rtol=1e-5)  # fmt: skip


def test_planner_scores_the_fraction_of_steps_at_the_goal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Candidates with a positive first component reach the goal at the OSM's first step and stay."""
    model = _model(plan_num_init_acs=4, plan_num_copies=3, plan_horizon=5)
    for name in ("state_scaler", "diff_scaler"):
        setattr(model, name, Scaler(np.zeros(24), np.ones(24)))
    goal = np.array([1.0, 2.0, 3.0])
    cands = torch.tensor([[-1.0, 0, 0, 0], [0.5, 0, 0, 0], [1.0, 0, 0, 0], [-0.2, 0, 0, 0]])
    calls = {"n": 0}

    def gen(x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        calls["n"] += 1
        if calls["n"] == 1:
            return cands, x
        return torch.zeros(len(x), 4), x.clone()

    def osm(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        out[a[:, 0] > 0, 3:6] = torch.tensor(goal, dtype=torch.float32)
        return out

    monkeypatch.setattr(model, "_gen_assigned", gen)
    monkeypatch.setattr(model, "_osm_assigned", osm)
    result = model.plan(np.zeros(24), goal)
    np.testing.assert_array_equal(result.scores, [0.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(result.action, cands[1].numpy())  # the first best
    assert calls["n"] == 1 + (5 - 1)  # K candidates, then T-1 GAN steps for all K x C at once


def test_plan_runs_batched_with_several_gans_and_osm_fraction() -> None:
    model = _model(planner_osm_frac=0.5, plan_average_ac=True)
    result = model.plan(np.zeros(24), np.zeros(3))
    assert result.action.shape == (4,) and np.all(np.abs(result.action) <= 1)
    assert result.scores.shape == (SMOKE.plan_num_init_acs,)


def test_observation_layouts() -> None:
    push = make_plangan_fetch("push")
    pnp = make_plangan_fetch("pick_and_place")
    obs, _ = push.reset(seed=0)
    raw: Any = push.env.unwrapped
    stock = raw._get_obs()["observation"]
    space: Any = push.observation_space
    assert obs["observation"].shape == (24,) == space["observation"].shape
    np.testing.assert_array_equal(obs["observation"][9:12], obs["observation"][12:15])
    np.testing.assert_array_equal(obs["observation"][9:12], stock[11:14])
    np.testing.assert_array_equal(obs["observation"][3:6], obs["achieved_goal"])
    obs, _ = pnp.reset(seed=0)
    raw = pnp.env.unwrapped
    stock = raw._get_obs()["observation"]
    assert obs["observation"].shape == (28,)
    np.testing.assert_array_equal(obs["observation"][11:14], np.sin(stock[11:14]))
    np.testing.assert_array_equal(obs["observation"][14:17], np.cos(stock[11:14]))
    np.testing.assert_array_equal(obs["observation"][9:11], stock[9:11])
    assert trajectory_kept("push", np.array([[0, 0, 0.4], [0.1, 0, 0.4]]))
    assert not trajectory_kept("push", np.array([[0, 0, 0.4], [0.01, 0, 0.4]]))
    assert not trajectory_kept("pick_and_place", np.array([[0, 0, 0.4], [0.1, 0, 0.2]]))


def test_wrapped_ids_are_goal_envs_for_her() -> None:
    from baselines.common.envs import make_env

    env = make_env("PlanGANFetchPickAndPlace-v4", goal_env=True)
    space: Any = env.observation_space
    assert space["observation"].shape == (28,) and env.spec is not None
    assert env.spec.max_episode_steps == 50
    obs, _ = env.reset(seed=0)
    reward = env.unwrapped.compute_reward(obs["achieved_goal"], obs["desired_goal"], {})  # type: ignore[attr-defined]
    assert reward in (-1.0, 0.0)
    env.close()


def _cube_world(env: PlanGANFetchObservation) -> tuple[np.ndarray, np.ndarray]:
    model, data = env.sim_model, env.sim_data
    geom = model.geom("object0")
    signs = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T
    corners = data.geom_xpos[geom.id] + (signs * model.geom_size[geom.id]) @ data.geom_xmat[geom.id].reshape(3, 3).T  # fmt: skip
    velocity = np.zeros(6)
    mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_BODY, model.body("object0").id, velocity, 0)  # fmt: skip
    return np.array(sorted(map(tuple, np.round(corners, 9)))), velocity


def test_canonicalisation_leaves_the_physical_state_unchanged() -> None:
    env = make_plangan_fetch("push")
    env.reset(seed=3)
    data = env.sim_data
    qadr, vadr = env._object_addresses()
    tilt = np.array([np.cos(0.05), np.sin(0.05), 0.0, 0.0])
    data.qpos[qadr + 3 : qadr + 7] = quat_mul(tilt, CUBE_SYMMETRIES[1])  # roll 0.1 + 90 degrees
    data.qvel[vadr : vadr + 6] = [0.1, -0.2, 0.0, 0.3, -0.5, 0.7]
    mujoco.mj_forward(env.sim_model, data)
    corners, velocity = _cube_world(env)
    before = env.current_observation()["observation"]
    obs = env.canonicalise()
    assert not np.allclose(data.qpos[qadr + 3 : qadr + 7], quat_mul(tilt, CUBE_SYMMETRIES[1]))
    after_corners, after_velocity = _cube_world(env)
    np.testing.assert_allclose(after_corners, corners, atol=1e-8)
    np.testing.assert_allclose(after_velocity, velocity, atol=1e-10)
    assert np.linalg.norm(obs["observation"][9:11]) < np.linalg.norm(before[9:11])
    np.testing.assert_allclose(obs["observation"][9:12], [0.1, 0.0, 0.0], atol=1e-9)  # the tilt
    np.testing.assert_allclose(obs["observation"][:9], before[:9], atol=1e-12)
