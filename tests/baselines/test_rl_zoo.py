"""rl-baselines3-zoo trains TQC + HER on our IDs with baselines/zoo/hyperparams."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import dexterous_gym
from baselines.zoo import HYPERPARAMS_DIR, hyperparams_file

yaml = pytest.importorskip("yaml")  # PyYAML: a dependency of rl_zoo3 and of pre-commit (dev)

ENV = "EggHandOverSparse-v0"
SPARSE_IDS = sorted(i for i in dexterous_gym.ENV_IDS if i.endswith("Sparse-v0"))


@pytest.mark.parametrize("algo", ["tqc", "sac"])
def test_hyperparams_cover_the_sparse_goal_envs(algo: str) -> None:
    with open(hyperparams_file(algo)) as handle:
        entries = yaml.safe_load(handle)
    assert len(SPARSE_IDS) == 15
    for env_id in SPARSE_IDS:
        entry = entries[env_id]
        assert entry["policy"] == "MultiInputPolicy"
        assert entry["replay_buffer_class"] == "HerReplayBuffer"
        kwargs = eval(entry["replay_buffer_kwargs"])  # the zoo evaluates these strings too
        assert kwargs == {"goal_selection_strategy": "future", "n_sampled_goal": 4}
    with pytest.raises(ValueError, match="tqc"):
        hyperparams_file("nope")


@pytest.mark.slow
def test_zoo_trains_tqc_her(tmp_path: Path) -> None:
    pytest.importorskip("rl_zoo3")
    command = [
        sys.executable, "-m", "rl_zoo3.train", "--algo", "tqc", "--env", ENV,
        "--gym-packages", "dexterous_gym", "-n", "300",
        "--conf-file", str(HYPERPARAMS_DIR / "tqc.yml"), "--log-folder", str(tmp_path),
        "--seed", "0", "--device", "cpu", "--num-threads", "1", "--eval-freq", "-1",
        "--verbose", "0",
        # two episodes before the first update, and a small learner: a few seconds on a CPU
        "--hyperparams", "learning_starts:150", "batch_size:32", "buffer_size:1000",
        "policy_kwargs:dict(net_arch=[32, 32], n_critics=2)",
    ]  # fmt: skip
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    run = tmp_path / "tqc" / f"{ENV}_1"
    assert (run / f"{ENV}.zip").is_file()
    assert (run / ENV / "config.yml").is_file() and (run / ENV / "vecnormalize.pkl").is_file()

    import gymnasium as gym
    from sb3_contrib import TQC
    from stable_baselines3 import HerReplayBuffer

    model = TQC.load(run / f"{ENV}.zip", env=gym.make(ENV), device="cpu")  # HER needs the env
    assert model.num_timesteps == 300 and model.replay_buffer_class is HerReplayBuffer
    model.get_env().close()
