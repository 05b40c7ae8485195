"""The TD3+demos runner: Stable-Baselines3's TD3 on the two wrappers, in a run folder.

Read top to bottom: demos -> envs (segment wrapper over previous-action envs, the running
normaliser) -> build or restore TD3 -> learn (:class:`~baselines.common.sb3_run.SB3Run`: run folder,
evaluations, checkpoints, resuming) -> final model, a video of a long spin, summary. A checkpoint holds the SB3 model (with its last observation), the
replay buffer, the normaliser, the segment scheduler with every env's simulator state, and every
random stream (numpy, torch, the action space's), so a resumed run continues bit-identically.
"""

from __future__ import annotations

import functools
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import TD3
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from baselines.common.checkpoint import Checkpoint, Writer, pickle_writer, restore_pickled
from baselines.common.cli import config_to_dict
from baselines.common.envs import check_env_id, make_env
from baselines.common.runfolder import atomic_write, read_json, run_folder_lock, write_json
from baselines.common.runtime import check_device, configure_torch
from baselines.common.sb3 import VECNORM_FILE, load_vecnormalize, restore_model
from baselines.common.sb3_run import SB3Run
from baselines.common.video import record_policy_video
from baselines.td3_demos.config import (
    RESUME_MAY_CHANGE,
    Td3DemosConfig,
    Td3DemosHyperparameters,
    hyperparameters_dict,
)
from baselines.td3_demos.demos import (
    check_same_demos,
    demo_states,
    demos_record,
    load_demos,
    shipped_demos,
)
from baselines.td3_demos.normalizer import RunningObsNormalizer
from baselines.td3_demos.wrappers import DemoStates, PrevActionWrapper, make_segment_env

SCHEDULER_FILE = "scheduler.pkl"
RNG_FILE = "rng.pkl"
EVAL_SEED_OFFSET = 100  # the original's evaluation env seed s + 100


def log(message: str, verbose: int = 1) -> None:
    if verbose:
        print(f"[td3_demos] {message}", file=sys.stderr, flush=True)


def _coupled(beta: float) -> Callable[[gym.Env[Any, Any]], PrevActionWrapper]:
    return functools.partial(PrevActionWrapper, beta=beta)


def make_train_env(
    env_id: str, hp: Td3DemosHyperparameters, demos: DemoStates | None, seed: int
) -> DummyVecEnv:
    """The training VecEnv: one :class:`DemoSegmentWrapper` (no Monitor: it would refuse a resumed
    env that was not reset; segment returns are not episode returns anyway)."""
    wrapper = make_segment_env(
        env_id, demos, seed=seed, beta=hp.beta, segment_steps=hp.segment_steps,
        episode_steps=hp.episode_steps, p_demo=hp.p_demo, p_reset=hp.p_reset, decay=hp.decay,
    )  # fmt: skip
    venv = DummyVecEnv([lambda: wrapper])
    venv.seed(seed)
    return venv


def make_eval_env(env_id: str, hp: Td3DemosHyperparameters, **kwargs: Any) -> gym.Env[Any, Any]:
    """A full-length evaluation episode env: TimeLimit, Monitor, previous-action coupling."""
    return make_env(env_id, [Monitor, _coupled(hp.beta)], max_episode_steps=hp.episode_steps, **kwargs)  # fmt: skip


def build_model(hp: Td3DemosHyperparameters, env: VecEnv, seed: int, device: str) -> TD3:
    n_actions = int(np.prod(env.action_space.shape or (1,)))
    return TD3(
        "MultiInputPolicy",
        env,
        learning_rate=hp.lr,
        buffer_size=hp.buffer_size,
        learning_starts=hp.learning_starts,
        batch_size=hp.batch_size,
        tau=hp.tau,
        gamma=hp.gamma,
        train_freq=1,
        gradient_steps=1,
        action_noise=NormalActionNoise(np.zeros(n_actions), hp.expl_noise * np.ones(n_actions)),
        policy_delay=hp.policy_delay,
        target_policy_noise=hp.target_policy_noise,
        target_noise_clip=hp.target_noise_clip,
        policy_kwargs={"net_arch": list(hp.net_arch)},
        seed=seed,
        device=device,
        verbose=0,
    )


def _random_streams(model: TD3) -> dict[str, Any]:
    return {
        # SB3 samples replay batches and exploration noise from numpy's legacy global stream
        "numpy": np.random.get_state(),  # noqa: NPY002
        "torch": torch.get_rng_state(),  # target policy noise
        "action_space": model.action_space.np_random.bit_generator.state,  # warm-up actions
    }


def _restore_random_streams(model: TD3, streams: dict[str, Any]) -> None:
    np.random.set_state(streams["numpy"])  # noqa: NPY002
    torch.set_rng_state(streams["torch"])
    model.action_space.np_random.bit_generator.state = streams["action_space"]


def resolve_demos(config: Td3DemosConfig, hp: Td3DemosHyperparameters) -> tuple[DemoStates | None, dict[str, Any]]:  # fmt: skip
    """The demo start points (``None`` for TD3 alone) and what the run records about them."""
    if config.no_demos:
        return None, {"demos": None}
    folder = config.demos if config.demos is not None else shipped_demos(config.env)
    trajectories = load_demos(folder, config.env)
    return demo_states(trajectories, config.env), demos_record(folder, trajectories)


def save_final_artefacts(
    run_dir: Path, model: TD3, config: Td3DemosConfig, hp: Td3DemosHyperparameters, normalizer: Any
) -> Path | None:
    """``final_model.zip`` (+ normaliser) and a video of a long deterministic run."""
    atomic_write(run_dir / "final_model.zip", model.save)
    if normalizer is not None:
        atomic_write(run_dir / "final_normalizer.pkl", lambda h: pickle.dump(normalizer, h))
    if not config.video:
        return None
    return record_policy_video(
        lambda: make_env(
            config.env, [_coupled(hp.beta)], render_mode="rgb_array",
            max_episode_steps=hp.video_steps,
        ),
        model,
        normalizer,
        run_dir / "videos" / f"final_policy_{hp.video_steps}_steps.gif",
        seed=config.seed + EVAL_SEED_OFFSET,
    )  # fmt: skip


class SchedulerLog(BaseCallback):
    """Logs the segment probabilities next to each evaluation (TensorBoard and progress.csv)."""

    def __init__(self, train_env: VecEnv) -> None:
        super().__init__()
        self.train_env = train_env

    def probabilities(self) -> dict[str, float]:
        return self.train_env.env_method("probabilities")[0]

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        probs = self.probabilities()
        self.logger.record("segments/p_demo", probs["demo"])
        self.logger.record("segments/p_reset", probs["reset"])


def record_demos(run_dir: Path, config: Td3DemosConfig, demo_info: dict[str, Any]) -> None:
    """A new run writes ``demos.json``; a resumed one checks that its demos are the same."""
    if not config.resume:
        write_json(run_dir / "demos.json", demo_info)
    elif not config.no_demos and (run_dir / "demos.json").is_file():
        check_same_demos(read_json(run_dir / "demos.json", expect=dict), demo_info, run_dir)


def td3_files(base: VecEnv, model: TD3) -> dict[str, Writer]:
    """The checkpoint files beside SB3's: the segment scheduler (with every env's simulator
    state) and every random stream."""
    snapshot = base.env_method("snapshot")[0]
    return {
        SCHEDULER_FILE: pickle_writer(lambda: snapshot),
        RNG_FILE: pickle_writer(lambda: _random_streams(model)),
    }


def run(config: Td3DemosConfig) -> dict[str, Any]:
    """Train (or resume) one TD3+demos run; returns the summary.

    The run folder is locked for the whole run: a second process on it stops at once.
    """
    with run_folder_lock(config.out):
        return _train(config)


def restore_td3(ckpt: Checkpoint, base: VecEnv, hp: Td3DemosHyperparameters, device: str) -> tuple[TD3, RunningObsNormalizer | None]:  # fmt: skip
    """TD3 and its normaliser as ``ckpt`` holds them, on the segment env ``base`` put back where
    the checkpoint found it (scheduler, simulator states) with every random stream."""
    normalizer: RunningObsNormalizer | None = None
    if hp.normalize:
        normalizer = load_vecnormalize(ckpt.file(VECNORM_FILE), base, training=True)  # type: ignore[assignment]
    train_env: VecEnv = normalizer if normalizer is not None else base
    # force_reset=False keeps the model's last observation: the envs are restored to it
    model: TD3 = restore_model(TD3, ckpt, train_env, device=device, force_reset=False)  # type: ignore[assignment]
    restore_pickled(ckpt.file(SCHEDULER_FILE), lambda saved: base.env_method("restore", saved))
    restore_pickled(ckpt.file(RNG_FILE), lambda saved: _restore_random_streams(model, saved))
    return model, normalizer


def new_td3(base: VecEnv, hp: Td3DemosHyperparameters, seed: int, device: str) -> tuple[TD3, RunningObsNormalizer | None]:  # fmt: skip
    """A fresh TD3 on ``base`` (behind a new running normaliser when the preset normalises)."""
    normalizer = RunningObsNormalizer(base, recompute_every=hp.recompute_every) if hp.normalize else None  # fmt: skip
    return build_model(hp, normalizer if normalizer is not None else base, seed, device), normalizer


def _train(config: Td3DemosConfig) -> dict[str, Any]:
    """The run itself (see :func:`run`)."""
    check_device(config.device)
    configure_torch(config.threads)
    check_env_id(config.env)
    hp = config.hyperparameters()
    demos, demo_info = resolve_demos(config, hp)  # bad demo folders fail before anything is made
    run_config = {
        **config_to_dict(config),
        "runner": "baselines.td3_demos",
        "algorithm": config.algorithm,
        "hyperparameters": {k: v for k, v in hyperparameters_dict(hp).items() if k != "timesteps"},
    }
    run = SB3Run(
        config.out, run_config, seed=config.seed, resume=config.resume,
        resume_may_change=RESUME_MAY_CHANGE, timesteps=hp.timesteps,
        checkpoint_freq=hp.checkpoint_freq, verbose=config.verbose, log=log,
    )  # fmt: skip
    with run.setting_up() as ckpt:
        record_demos(run.run_dir, config, demo_info)
        set_random_seed(config.seed)
        base = make_train_env(config.env, hp, demos, config.seed)
        eval_venv = DummyVecEnv([lambda: make_eval_env(config.env, hp)])
        if ckpt is not None:
            model, normalizer = restore_td3(ckpt, base, hp, config.device)
        else:
            model, normalizer = new_td3(base, hp, config.seed, config.device)
        eval_env: VecEnv = eval_venv
        if normalizer is not None:
            eval_env = RunningObsNormalizer(eval_venv, recompute_every=hp.recompute_every, training=False)  # fmt: skip
        run.attach(model)

    run.evaluate_with(eval_env, freq=hp.eval_freq, episodes=hp.eval_episodes, seed=config.seed + EVAL_SEED_OFFSET)  # fmt: skip
    run.checkpoint_with(vecnormalize=normalizer, extra_files=lambda: td3_files(base, model))
    scheduler_log = SchedulerLog(base)
    log(
        f"{config.algorithm} on {config.env}: steps {run.start} -> {hp.timesteps}, beta {hp.beta}, "
        f"p_demo {hp.p_demo}, demos {demo_info.get('n_trajectories', 0)}, out={run.run_dir}",
        config.verbose,
    )
    run.learn(
        log_interval=None, progress=config.progress, others=[scheduler_log], evaluate_first=True,
        postfix=lambda last: {
            "eval_return": f"{last['mean_return']:.1f}",
            "p_demo": f"{scheduler_log.probabilities()['demo']:.3f}",
        },
    )  # fmt: skip
    video = save_final_artefacts(run.run_dir, model, config, hp, normalizer)
    summary = summarise(run, config, demo_info, video)
    run.write_summary(summary)
    log(f"done: {model.num_timesteps} steps, eval return {summary['final_eval_return']:.1f}, wall {summary['wall_time_s']} s", config.verbose)  # fmt: skip
    (normalizer if normalizer is not None else base).close()
    eval_env.close()
    return summary


def summarise(
    run: SB3Run, config: Td3DemosConfig, demo_info: dict[str, Any], video: Path | None
) -> dict[str, Any]:
    """What ``summary.json`` holds about a finished session."""
    returns = [r["mean_return"] for r in run.history]
    return {
        "env": config.env,
        "algorithm": config.algorithm,
        "seed": config.seed,
        "num_timesteps": int(run.model.num_timesteps),
        "final_eval_return": returns[-1],
        "best_eval_return": max(returns),
        "demos_mean_return": demo_info.get("mean_return"),
        "wall_time_s": round(run.clock.total(), 1),
        "session_steps_per_s": run.steps_per_s(),
        "video": str(video.relative_to(run.run_dir)) if video else None,
    }
