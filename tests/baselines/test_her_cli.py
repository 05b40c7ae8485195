"""Bad input to ``python -m baselines.her`` gives one clear error naming the argument."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from baselines.her.__main__ import main
from baselines.her.config import parse_args, resolve_hyperparameters


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "FetchReach-v4", "--timesteps", "0"], "--timesteps must be >= 1"),
        (["--env", "FetchReach-v4", "--timesteps", "ten"], "--timesteps must be an integer"),
        (["--env", "FetchReach-v4", "--timesteps", "1e400"], "--timesteps must be an integer"),
        (["--env", "FetchReach-v4", "--timesteps", "9", "--seed", "-1"], "--seed must be >= 0"),
        (["--env", "FetchReach-v4", "--timesteps", "9", "--algo", "ppo"], "--algo"),
        (["--env", "FetchReach-v4", "--timesteps", "9", "--net-arch", "a,b"], "--net-arch"),
        (["--timesteps", "9"], "--env"),
    ],
)
def test_argument_errors_name_the_argument(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_unknown_env_suggests_close_ids(tmp_path, capsys):
    code = main(["--env", "FetchReech-v4", "--timesteps", "10", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert "--env: unknown environment ID 'FetchReech-v4'" in err
    assert "FetchReach-v4" in err
    assert not (tmp_path / "r").exists()


def test_non_goal_env_is_rejected(tmp_path, capsys):
    code = main(["--env", "CartPole-v1", "--timesteps", "10", "--out", str(tmp_path / "r")])
    assert code == 2
    assert "--env CartPole-v1 is not a goal env" in capsys.readouterr().err


def test_defaults_are_the_papers_her_settings():
    # the default: Plappert et al. (2018)'s schedule in one process, which learns FetchPush
    args = parse_args(["--env", "FetchReach-v4", "--timesteps", "2e5"])
    h = args.hyperparameters()
    assert args.timesteps == 200_000 and args.preset == "plappert"
    assert h.algo == "ddpg" and h.n_envs == 38 and h.batch_size == 19 * 256
    assert (h.random_eps, h.action_l2, h.obs_clip) == (0.3, 1.0, 200.0)
    # its DDPG exploration and actor terms do not carry over to SAC; the schedule does
    sac = parse_args(["--env", "FetchReach-v4", "--timesteps", "9", "--algo", "sac"]).hyperparameters()  # fmt: skip
    assert (sac.random_eps, sac.action_l2, sac.n_envs, sac.obs_clip) == (0.0, 0.0, 38, 200.0)
    # single: its single-worker reading
    args = parse_args(["--env", "FetchReach-v4", "--timesteps", "2e5", "--preset", "single"])
    h = args.hyperparameters()
    assert h.algo == "ddpg" and h.n_envs == 2 and h.random_eps == 0 and h.action_l2 == 0
    hp = resolve_hyperparameters(args, episode_steps=75)
    assert hp["replay_buffer_kwargs"] == {"n_sampled_goal": 4, "goal_selection_strategy": "future"}
    assert hp["policy_kwargs"] == {"net_arch": [256, 256, 256]}
    assert hp["learning_rate"] == 1e-3 and hp["batch_size"] == 256
    assert hp["gamma"] == pytest.approx(1 - 1 / 75)
    assert hp["buffer_size"] == 200_000  # min(1e6, timesteps)
    assert hp["train_freq"] == [75, "step"] and hp["gradient_steps"] == 40
    assert hp["learning_starts"] == 150
    # baselines' polyak 0.95 once per 40 updates == tau per update with the same decay
    assert (1 - hp["tau"]) ** 40 == pytest.approx(0.95)
    assert hp["action_noise_sigma"] == 0.2
    assert "random_eps" not in hp and "action_l2" not in hp["policy_kwargs"]
    sac = resolve_hyperparameters(
        parse_args(["--env", "X", "--timesteps", "9", "--algo", "sac"]), 50
    )
    assert sac["tau"] == pytest.approx(0.05) and sac["target_update_interval"] == 40
