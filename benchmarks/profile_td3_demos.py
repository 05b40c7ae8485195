"""Where TD3+demos' training time goes: one profiled stretch of training, split by part.

    python benchmarks/profile_td3_demos.py [--seconds 60] [--demos DIR]

Builds the ``paper`` preset's learner (networks, batch, buffer, scheduler, coupling, normaliser)
exactly as ``python -m baselines.td3_demos`` does, fills the replay buffer with ``--warmup``
random steps, then profiles (cProfile) about ``--seconds`` of training at one update per env step
and splits its wall time into: the simulator (the env's own ``step``), the wrappers and scheduler
(everything else inside the vectorised env step: segment scheduler, demo-state restarts,
previous-action coupling, the running normaliser), acting (the policy's forward pass and
exploration noise), storing transitions, replay sampling, gradient updates (``TD3.train`` without
its sampling) and the rest. Evaluation (10 episodes of 250 steps every 5 000 env steps in the
paper's protocol) is timed separately and reported per 5 000 training steps.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import torch
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv

import dexterous_gym  # noqa: F401
from baselines.td3_demos.config import Td3DemosHyperparameters
from baselines.td3_demos.demos import demo_states, load_demos, shipped_demos
from baselines.td3_demos.normalizer import RunningObsNormalizer
from baselines.td3_demos.train import build_model, make_eval_env, make_train_env

ENV = "PenSpin-v0"
# (file suffix, function name) -> part; cumulative times, so nested parts are subtracted below
FUNCTIONS = {
    "learn": ("stable_baselines3/td3/td3.py", "learn"),
    "vec_step": ("stable_baselines3/common/vec_env/base_vec_env.py", "step"),
    "simulator": ("dexterous_gym/envs/base.py", "step"),
    "acting": ("stable_baselines3/common/off_policy_algorithm.py", "_sample_action"),
    "storing": ("stable_baselines3/common/off_policy_algorithm.py", "_store_transition"),
    "train": ("stable_baselines3/td3/td3.py", "train"),
    "sampling": ("stable_baselines3/common/buffers.py", "sample"),
}


def cumulative_times(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative seconds of each function of :data:`FUNCTIONS` (0 if it never ran)."""
    found = dict.fromkeys(FUNCTIONS, 0.0)
    for (filename, _, name), entry in stats.stats.items():  # type: ignore[attr-defined]
        for part, (suffix, function) in FUNCTIONS.items():
            if name == function and filename.endswith(suffix):
                found[part] = max(found[part], entry[3])  # the outermost call's cumulative time
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="training time to profile")
    parser.add_argument("--warmup", type=int, default=2000, help="random steps before training")
    parser.add_argument("--demos", default=None, help="demo folder (default: the shipped demos)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    hp = Td3DemosHyperparameters(learning_starts=args.warmup)
    demos = demo_states(load_demos(args.demos or shipped_demos(ENV), ENV), ENV)
    normalizer = RunningObsNormalizer(
        make_train_env(ENV, hp, demos, 0), recompute_every=hp.recompute_every
    )
    model = build_model(hp, normalizer, 0, "cpu")
    model.learn(args.warmup + 200)  # warm-up, then a few updates before timing
    tic = time.perf_counter()
    model.learn(200, reset_num_timesteps=False)
    steps = max(500, int(args.seconds * 200 / (time.perf_counter() - tic)))
    profiler = cProfile.Profile()
    profiler.enable()
    model.learn(steps, reset_num_timesteps=False)
    profiler.disable()
    t = cumulative_times(pstats.Stats(profiler))
    wrappers = t["vec_step"] - t["simulator"]
    parts = {
        "simulator (env.step: MuJoCo, observation, reward)": t["simulator"],
        "wrappers and scheduler (segments, demo restarts, coupling, normaliser)": wrappers,
        "acting (policy forward pass, noise)": t["acting"],
        "storing transitions": t["storing"],
        "replay sampling": t["sampling"],
        "gradient updates (TD3.train without sampling)": t["train"] - t["sampling"],
    }
    parts["other (SB3 loop, callbacks, profiler overhead)"] = t["learn"] - sum(parts.values())
    print(f"profiled {steps} training steps in {t['learn']:.1f} s ({steps / t['learn']:.1f} steps/s under cProfile)")  # fmt: skip
    for name, seconds in parts.items():
        print(f"  {100 * seconds / t['learn']:5.1f} %  {seconds:7.2f} s  {name}")
    eval_env = RunningObsNormalizer(
        DummyVecEnv([lambda: make_eval_env(ENV, hp)]),
        recompute_every=hp.recompute_every,
        training=False,
    )
    eval_env.obs_rms = normalizer.obs_rms
    tic = time.perf_counter()
    evaluate_policy(model, eval_env, n_eval_episodes=hp.eval_episodes, deterministic=True)
    evaluation = time.perf_counter() - tic
    per_5000 = 5000 * t["learn"] / steps
    print(f"evaluation: {evaluation:.1f} s for {hp.eval_episodes} episodes of {hp.episode_steps} steps, "
          f"against {per_5000:.1f} s of profiled training per {hp.eval_freq} steps "
          f"({100 * evaluation / (evaluation + per_5000):.1f} % of a run's wall time)")  # fmt: skip


if __name__ == "__main__":
    main()
