import subprocess
import sys

import gymnasium as gym
import pytest

import dexterous_gym
from dexterous_gym.tasks import TASKS_BY_ID

ORIGINAL_IDS = [
    *(f"{o}HandOver{s}-v0" for s in ("", "Sparse") for o in ("Egg", "Block", "Pen")),
    *(f"{o}CatchUnderarm{s}-v0" for s in ("", "Sparse") for o in ("Egg", "Block", "Pen")),
    *(f"{o}CatchUnderarmHard{s}-v0" for s in ("", "Sparse") for o in ("Egg", "Block", "Pen")),
    *(f"Two{o}CatchUnderArm{s}-v0" for s in ("", "Sparse") for o in ("Egg", "Block", "Pen")),
    *(f"{o}CatchOverarm{s}-v0" for s in ("", "Sparse") for o in ("Egg", "Block", "Pen")),
    "PenSpin-v0",
]


def test_exactly_the_31_original_ids_are_registered():
    assert len(ORIGINAL_IDS) == 31
    assert set(dexterous_gym.ENV_IDS) == set(ORIGINAL_IDS)
    for env_id in ORIGINAL_IDS:
        assert env_id in gym.registry
    # spelling traps of the original registry
    assert "TwoEggCatchUnderArm-v0" in gym.registry and "EggCatchUnderarm-v0" in gym.registry
    for unregistered in ("PenCatchUnderArm-v0", "BlockCatchOverArm-v0", "TwoEggCatchUnderarm-v0"):
        assert unregistered not in gym.registry


@pytest.mark.parametrize("env_id", ORIGINAL_IDS)
def test_max_episode_steps(env_id):
    assert gym.spec(env_id).max_episode_steps == (250 if env_id == "PenSpin-v0" else 75)


def test_sparse_and_dense_rows():
    assert TASKS_BY_ID["EggHandOverSparse-v0"].reward_type == "sparse"
    assert TASKS_BY_ID["EggHandOver-v0"].reward_type == "dense"
    env = gym.make("BlockCatchUnderarmHardSparse-v0")
    assert env.unwrapped.reward_type == "sparse" and env.unwrapped.task.object == "block"
    env.close()


def test_make_with_module_prefix_without_import():
    code = (
        "import gymnasium as gym, sys\n"
        "env = gym.make('dexterous_gym:PenSpin-v0')\n"
        "obs, _ = env.reset(seed=0)\n"
        "assert obs.shape == (61,)\n"
        "assert 'dexterous_gym' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_register_envs_idiom():
    gym.register_envs(dexterous_gym)
    env = gym.make("EggHandOver-v0")
    assert env.spec.id == "EggHandOver-v0"
    env.close()


def test_unknown_task_and_bad_kwargs_are_clear_errors():
    from dexterous_gym.envs import PenSpinEnv, TwoHandsEnv

    with pytest.raises(ValueError, match="task"):
        TwoHandsEnv(task="EggCatchUnderArm-v0")
    with pytest.raises(ValueError, match="reward_type"):
        gym.make("EggHandOver-v0", reward_type="shaped")
    with pytest.raises(ValueError, match="target_rotation"):
        gym.make("EggHandOver-v0", target_rotation="random")
    with pytest.raises(ValueError, match="distance_threshold"):
        gym.make("EggHandOver-v0", distance_threshold=-1.0)
    with pytest.raises(ValueError, match="target_range_1"):
        gym.make("EggHandOver-v0", target_range_1=[[1, 0], [0, 1], [0, 1]])
    with pytest.raises(ValueError, match="direction"):
        PenSpinEnv(direction=2)
    # gymnasium warns about the unknown mode first; the env then refuses it
    with pytest.raises(ValueError, match="render_mode"), pytest.warns(UserWarning, match="video"):
        gym.make("PenSpin-v0", render_mode="video")
