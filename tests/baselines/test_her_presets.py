"""HER's presets: Plappert et al.'s schedule in one process (random_eps, the action L2 penalty,
the observation clip) and rl-baselines3-zoo's TQC settings."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")

from stable_baselines3 import DDPG
from stable_baselines3.common.noise import NormalActionNoise

from baselines.her.__main__ import main
from baselines.her.config import parse_args, resolve_hyperparameters
from baselines.her.plappert import (
    ClipObservation,
    PenalisedMultiInputPolicy,
    PlappertDDPG,
)

FAST = ["--gradient-steps", "2", "--batch-size", "16", "--eval-episodes", "1", "--no-progress",
        "--verbose", "0", "--no-video", "--eval-freq", "100", "--checkpoint-freq", "100"]  # fmt: skip


def test_plappert_preset_is_baselines_schedule_in_one_process() -> None:
    args = parse_args(["--env", "FetchPush-v4", "--timesteps", "2e6", "--preset", "plappert"])
    h = args.hyperparameters()
    assert (h.algo, h.n_envs, h.batch_size, h.gradient_steps) == ("ddpg", 38, 19 * 256, 40)
    assert (h.random_eps, h.action_l2, h.obs_clip, h.polyak) == (0.3, 1.0, 200.0, 0.95)
    hp = resolve_hyperparameters(args, episode_steps=50)
    # one cycle: one 50-step episode in each of 38 envs (1 900 env steps), then 40 updates
    assert hp["train_freq"] == [50, "step"] and hp["gradient_steps"] == 40
    assert hp["gamma"] == pytest.approx(0.98) and hp["learning_starts"] == 50 * 38
    assert hp["random_eps"] == 0.3 and hp["policy_kwargs"]["action_l2"] == 1.0
    # an option overrides its preset
    smaller = parse_args(["--env", "FetchPush-v4", "--timesteps", "9", "--preset", "plappert",
                          "--batch-size", "512", "--no-normalize"])  # fmt: skip
    assert smaller.hyperparameters().batch_size == 512
    assert smaller.hyperparameters().normalize is False


def test_tqc_zoo_preset_is_the_zoo_fetchpush_settings() -> None:
    args = parse_args(["--env", "FetchPush-v4", "--timesteps", "1e6", "--preset", "tqc-zoo"])
    hp = resolve_hyperparameters(args, episode_steps=50)
    assert args.hyperparameters().algo == "tqc" and args.hyperparameters().n_envs == 1
    assert hp["batch_size"] == 2048 and hp["gamma"] == 0.95 and hp["learning_rate"] == 1e-3
    assert hp["tau"] == pytest.approx(0.05) and hp["target_update_interval"] == 1
    assert hp["train_freq"] == [1, "step"] and hp["gradient_steps"] == 1
    assert hp["policy_kwargs"] == {"net_arch": [512, 512, 512]}
    assert args.run_dir == Path("runs/her/FetchPush-v4_tqc_s0")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--algo", "sac", "--random-eps", "0.3"],
            "--random-eps and --action-l2 need --algo ddpg or td3, got sac",
        ),
        (["--preset", "tqc-zoo", "--action-l2", "1"], "need --algo ddpg or td3, got tqc"),
        (["--random-eps", "1.5"], "--random-eps must be <= 1"),
        (["--preset", "nope"], "--preset"),
    ],
)
def test_impossible_settings_exit_2_naming_them(argv, message, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(["--env", "FetchReach-v4", "--timesteps", "9", *argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def _ddpg(cls, env, policy="MultiInputPolicy", action_l2=None, **kwargs):
    n = env.action_space.shape[0]
    policy_kwargs = {"net_arch": [16]} if action_l2 is None else {"net_arch": [16], "action_l2": action_l2}  # fmt: skip
    return cls(
        policy, env, learning_starts=20, batch_size=8, train_freq=(10, "step"),
        gradient_steps=2, policy_kwargs=policy_kwargs, seed=3, verbose=0,
        action_noise=NormalActionNoise(np.zeros(n), 0.2 * np.ones(n)), **kwargs,
    )  # fmt: skip


def test_without_its_extras_plappert_ddpg_is_stock_ddpg_bitwise() -> None:
    # one after the other: SB3 seeds numpy's and torch's global streams when it builds a model
    stock = _ddpg(DDPG, gym.make("FetchReach-v4"))
    stock.learn(80)
    ours = _ddpg(PlappertDDPG, gym.make("FetchReach-v4"), random_eps=0.0)
    ours.learn(80)
    for a, b in zip(stock.policy.parameters(), ours.policy.parameters(), strict=True):
        assert th.equal(a, b)


def test_random_eps_replaces_the_chosen_actions_by_uniform_ones() -> None:
    model = _ddpg(PlappertDDPG, gym.make("FetchReach-v4"), random_eps=1.0)
    model.learn(30)  # past learning_starts: the policy would act now
    np.random.seed(0)  # noqa: NPY002
    actions = np.array([model._sample_action(0, None, n_envs=1)[1][0] for _ in range(400)])
    # every action is uniform on [-1, 1]^4: its mean is about 0 and its std about 1/sqrt(3)
    assert np.all(np.abs(actions) <= 1.0)
    assert np.abs(actions.mean()) < 0.06 and abs(actions.std() - 3**-0.5) < 0.03
    none = _ddpg(PlappertDDPG, gym.make("FetchReach-v4"), random_eps=0.0)
    none.learn(30)
    policy = np.array([none._sample_action(0, None, n_envs=1)[1][0] for _ in range(50)])
    assert policy.std() < actions.std() / 2  # the untrained policy's actions cluster
    with pytest.raises(ValueError, match="random_eps must lie in"):
        PlappertDDPG("MultiInputPolicy", gym.make("FetchReach-v4"), random_eps=2.0)


def test_action_l2_penalty_enters_the_actor_objective_only() -> None:
    env = gym.make("FetchReach-v4")
    plain = _ddpg(DDPG, env)
    penalised = _ddpg(PlappertDDPG, env, PenalisedMultiInputPolicy, action_l2=1.0)
    assert isinstance(penalised.policy, PenalisedMultiInputPolicy)
    penalised.policy.load_state_dict(plain.policy.state_dict())
    obs = {k: th.as_tensor(v[None]) for k, v in env.observation_space.sample().items()}
    actions = th.tensor([[0.5, -1.0, 0.0, 0.2]])
    q_plain = plain.critic.q1_forward(obs, actions)
    q_penalised = penalised.critic.q1_forward(obs, actions)
    assert th.allclose(q_plain - q_penalised, (actions**2).mean(dim=1, keepdim=True))
    # the critic's own values (its loss, the targets) are unchanged
    for a, b in zip(plain.critic(obs, actions), penalised.critic(obs, actions), strict=True):
        assert th.equal(a, b)


def test_clip_observation_clips_every_entry() -> None:
    env = ClipObservation(gym.make("FetchReach-v4"), bound=0.5)
    obs, _ = env.reset(seed=0)
    assert all(np.all(np.abs(v) <= 0.5) for v in obs.values())
    assert np.max(np.abs(gym.make("FetchReach-v4").reset(seed=0)[0]["observation"])) > 0.5
    with pytest.raises(ValueError, match="obs_clip must be"):
        ClipObservation(gym.make("FetchReach-v4"), bound=-1.0)
    only_goal = ClipObservation(gym.make("FetchReach-v4"), bound=0.5, keys=["desired_goal"])
    obs, _ = only_goal.reset(seed=0)
    assert np.max(np.abs(obs["observation"])) > 0.5 and np.all(np.abs(obs["desired_goal"]) <= 0.5)
    with pytest.raises(ValueError, match=r"keys: \['goal'\] are not entries"):
        ClipObservation(gym.make("FetchReach-v4"), bound=0.5, keys=["goal"])


@pytest.mark.parametrize("preset", ["plappert", "tqc-zoo"])
def test_presets_run_resume_and_record_themselves(tmp_path: Path, preset: str) -> None:
    out = tmp_path / preset
    argv = ["--env", "FetchReach-v4", "--timesteps", "200", "--out", str(out), "--preset", preset,
            "--n-envs", "2", "--net-arch", "16", *FAST]  # fmt: skip
    assert main(argv) == 0
    hp = json.loads((out / "hyperparameters.json").read_text())
    assert hp["preset"] == preset
    assert (hp.get("random_eps"), hp["policy_kwargs"].get("action_l2")) == (
        (0.3, 1.0) if preset == "plappert" else (None, None)
    )
    argv[argv.index("200")] = "300"
    assert main([*argv, "--resume"]) == 0
    assert json.loads((out / "summary.json").read_text())["num_timesteps"] >= 300
