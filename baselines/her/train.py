"""The HER runner: Stable-Baselines3's HerReplayBuffer with DDPG, TD3 or SAC, in a run folder.

Read top to bottom: build envs -> build or restore the model -> learn -> final model, video and
summary. The run folder, checkpoints, evaluations and resuming are
:class:`~baselines.common.sb3_run.SB3Run`'s; everything reproducibility needs is in the run folder
(see ``baselines.common.runfolder``); ``--resume`` restarts from ``checkpoints/latest.json``.
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
from sb3_contrib import TQC
from stable_baselines3 import SAC, HerReplayBuffer
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from baselines.common.checkpoint import (
    Checkpoint,
    CheckpointError,
    Writer,
    pickle_writer,
    restore_pickled,
)
from baselines.common.envs import (
    GOAL_KEYS,
    Wrapper,
    episode_length,
    make_goal_env,
    make_vec_envs,
    normalize_observations,
)
from baselines.common.runfolder import atomic_write, read_json, run_folder_lock, write_json
from baselines.common.runtime import check_device, configure_torch
from baselines.common.sb3 import VECNORM_FILE, load_vecnormalize, restore_model
from baselines.common.sb3_run import SB3Run
from baselines.common.video import record_policy_video
from baselines.her.config import RESUME_MAY_CHANGE, HerConfig, resolve_hyperparameters
from baselines.her.plappert import (
    ClipObservation,
    PenalisedMultiInputPolicy,
    PlappertDDPG,
    PlappertTD3,
)
from baselines.td3_demos.demos import (
    check_same_demos,
    demo_label,
    demo_states,
    demos_record,
    load_demos,
)
from baselines.td3_demos.wrappers import DemoStates, PrevActionWrapper, make_segment_env

# DDPG and TD3 with baselines' random_eps (stock SB3 when it is 0, as in the single preset)
ALGO_CLASSES: dict[str, type[OffPolicyAlgorithm]] = {"ddpg": PlappertDDPG, "td3": PlappertTD3, "sac": SAC, "tqc": TQC}  # fmt: skip
EVAL_SEED_OFFSET = 10_000
SCHEDULER_FILE = "scheduler.pkl"  # HER+demos: every training env's segment scheduler


def log(message: str, verbose: int = 1) -> None:
    if verbose:
        print(f"[her] {message}", file=sys.stderr, flush=True)


def make_envs(
    env_id: str,
    n_envs: int,
    seed: int,
    normalize: bool,
    training: bool,
    wrappers: tuple[Wrapper, ...] = (),
) -> tuple[VecEnv, VecNormalize | None]:
    """A Monitor-wrapped DummyVecEnv of a goal env, with an observation normaliser on top."""
    return make_vec_envs(
        env_id, n_envs, seed, wrappers, normalize=normalize, norm_obs_keys=GOAL_KEYS,
        training=training, goal_env=True,
    )  # fmt: skip


def obs_wrappers(config: HerConfig) -> tuple[Wrapper, ...]:
    """The observation clip of the plappert preset (before the normaliser), or nothing."""
    bound = config.hyperparameters().obs_clip
    return (functools.partial(ClipObservation, bound=bound),) if bound is not None else ()


def eval_wrappers(config: HerConfig) -> tuple[Wrapper, ...]:
    """HER+demos acts on previous-action observations; plain HER on the env's own."""
    coupling = (functools.partial(PrevActionWrapper, beta=config.beta),) if config.demos else ()
    return obs_wrappers(config) + coupling


def make_segment_envs(
    config: HerConfig, demos: DemoStates, seed: int, episode_steps: int
) -> DummyVecEnv:
    """HER+demos' training envs: one demo-state segment env per env (its three inner envs are
    seeded ``seed + 3 i``, ``+ 1``, ``+ 2``). Segments end with ``truncated``, so each is one
    HER episode: relabelled goals come from the same segment. The preset's observation clip sits
    on top, where it sees every observation the segments return (restarts from demo states
    included), on the goal env's own entries as in evaluation, where it sits below the coupling."""

    def factory(i: int) -> Any:
        def make() -> gym.Env[Any, Any]:
            env: gym.Env[Any, Any] = make_segment_env(
                config.env, demos, seed=seed + 3 * i, beta=config.beta,
                segment_steps=config.segment_steps, episode_steps=episode_steps,
                p_demo=config.p_demo, p_reset=config.p_reset, decay=config.decay,
            )  # fmt: skip
            bound = config.hyperparameters().obs_clip
            return env if bound is None else ClipObservation(env, bound, keys=GOAL_KEYS)

        return make

    return DummyVecEnv([factory(i) for i in range(config.hyperparameters().n_envs)])


def restore_schedulers(base: VecEnv, path: Path) -> None:
    """Put every segment env back where the checkpoint's scheduler file found it."""

    def restore(snapshots: Any) -> None:
        if not isinstance(snapshots, list) or len(snapshots) != base.num_envs:
            raise ValueError(f"expected {base.num_envs} env snapshots")
        for i, snapshot in enumerate(snapshots):
            base.env_method("restore", snapshot, indices=[i])

    restore_pickled(path, restore)


def build_model(config: HerConfig, hp: dict[str, Any], env: VecEnv) -> OffPolicyAlgorithm:
    """A fresh SB3 model with a HerReplayBuffer and the resolved hyperparameters."""
    kwargs = {k: v for k, v in hp.items() if k != "action_noise_sigma"}
    kwargs["train_freq"] = tuple(kwargs["train_freq"])
    kwargs["policy_kwargs"] = dict(kwargs["policy_kwargs"])
    penalised = "action_l2" in kwargs["policy_kwargs"]
    if "action_noise_sigma" in hp and hp["action_noise_sigma"] > 0:
        n_actions = int(np.prod(env.action_space.shape or (1,)))
        kwargs["action_noise"] = NormalActionNoise(
            np.zeros(n_actions), hp["action_noise_sigma"] * np.ones(n_actions)
        )
    return ALGO_CLASSES[config.hyperparameters().algo](
        PenalisedMultiInputPolicy if penalised else "MultiInputPolicy",
        env,
        replay_buffer_class=HerReplayBuffer,
        seed=config.seed,
        device=config.device,
        verbose=0,
        **kwargs,
    )


def save_final_artefacts(
    run_dir: Path,
    model: OffPolicyAlgorithm,
    config: HerConfig,
    vecnorm: VecNormalize | None,
) -> Path | None:
    """``final_model.zip`` (+ normaliser) and a video of one deterministic evaluation episode."""
    atomic_write(run_dir / "final_model.zip", model.save)
    if vecnorm is not None:
        atomic_write(run_dir / "final_vecnormalize.pkl", lambda h: pickle.dump(vecnorm, h))
    if not config.video:
        return None

    def video_env() -> Any:
        env = make_goal_env(config.env, render_mode="rgb_array")
        for wrap in eval_wrappers(config):
            env = wrap(env)
        return env

    return record_policy_video(
        video_env,
        model,
        vecnorm,
        run_dir / "videos" / "eval_episode",
        seed=config.seed + EVAL_SEED_OFFSET,
    )


def load_demo_states(config: HerConfig) -> tuple[DemoStates | None, dict[str, Any]]:
    """HER+demos: the demo start points of ``--demos`` and what the run records about them (a bad
    folder fails here, before the run folder is touched); plain HER: ``None`` and nothing."""
    if not config.demos:
        return None, {}
    trajectories = [t for folder in config.demos for t in load_demos(folder, config.env)]
    record = {
        **demos_record(Path(config.demos[0]), trajectories),
        "demos": [demo_label(folder) for folder in config.demos],
        "successes": int(sum(bool(t.success[-1]) for t in trajectories)),
    }
    return demo_states(trajectories, config.env), record


def record_inputs(run_dir: Path, config: HerConfig, hp: dict[str, Any], demo_info: dict[str, Any]) -> None:  # fmt: skip
    """A new run writes ``hyperparameters.json`` (and ``demos.json``); a resumed one keeps the
    hyperparameters saved in its checkpoint and checks that its demos are the same."""
    if not config.resume:
        algo = config.hyperparameters().algo
        write_json(run_dir / "hyperparameters.json", {"algo": algo, "preset": config.preset, **hp})
        if demo_info:
            write_json(run_dir / "demos.json", demo_info)
    elif demo_info and (run_dir / "demos.json").is_file():
        check_same_demos(read_json(run_dir / "demos.json", expect=dict), demo_info, run_dir)


def make_train_envs(
    config: HerConfig,
    demos: DemoStates | None,
    ckpt: Checkpoint | None,
    seed: int,
    episode_steps: int,
) -> tuple[VecEnv, VecEnv, VecNormalize | None]:
    """The training envs (``base``), what the model trains on (``base`` or its normaliser) and the
    normaliser, restored from ``ckpt`` when resuming: HER+demos' segment envs (with their
    schedulers) or the goal env itself."""
    normalize = config.hyperparameters().normalize
    if ckpt is not None and normalize and not ckpt.has(VECNORM_FILE):
        raise CheckpointError(
            f"{ckpt.path / VECNORM_FILE}: missing; resuming with fresh normaliser statistics "
            "would change the run (restore the file, or start a new run in another --out folder)"
        )
    if demos is not None:
        base: VecEnv = make_segment_envs(config, demos, seed, episode_steps)
        if ckpt is not None:
            restore_schedulers(base, ckpt.file(SCHEDULER_FILE))
    else:
        n_envs = config.hyperparameters().n_envs
        base, _ = make_envs(config.env, n_envs, seed, normalize=False, training=True, wrappers=obs_wrappers(config))  # fmt: skip
    if not normalize:
        return base, base, None
    if ckpt is not None:
        vecnorm = load_vecnormalize(ckpt.file(VECNORM_FILE), base, training=True)
    else:
        vecnorm = normalize_observations(base, True, GOAL_KEYS)
    return base, vecnorm, vecnorm


class SessionLog:
    """Every session of a run (steps from and to, the target, wall time), kept in the checkpoints
    and the summary: a run extended with ``--resume`` shows where each session began."""

    def __init__(self, run: SB3Run, target: int) -> None:
        self.run, self.target = run, target
        self.sessions: list[dict[str, Any]] = list(run.state.get("sessions", []))
        self.sessions.append({"start_timesteps": run.start, "target_timesteps": target})

    def state(self) -> dict[str, Any]:
        """The checkpoint state, with this session's record brought up to now."""
        self.sessions[-1]["end_timesteps"] = int(self.run.model.num_timesteps)
        self.sessions[-1]["wall_time_s"] = round(self.run.clock.session(), 2)
        return {"sessions": self.sessions, "target_timesteps": self.target}


def scheduler_files(base: VecEnv) -> dict[str, Writer]:
    """HER+demos' checkpoint file of every training env's segment scheduler."""
    return {SCHEDULER_FILE: pickle_writer(lambda: base.env_method("snapshot"))}


def progress_postfix(segment_envs: VecEnv | None) -> Callable[[dict[str, Any]], dict[str, str]]:
    """What the progress bar shows after each evaluation: both success rates (and HER+demos'
    current probability of a demo-state segment)."""

    def postfix(last: dict[str, Any]) -> dict[str, str]:
        fields = {k: f"{last[k]:.2f}" for k in ("success_final", "success_any")}
        if segment_envs is not None:
            fields["p_demo"] = f"{segment_envs.env_method('probabilities')[0]['demo']:.3f}"
        return fields

    return postfix


def describe(
    config: HerConfig,
    hp: dict[str, Any],
    episode_steps: int,
    demo_info: dict[str, Any],
    run: SB3Run,
) -> str:
    """The line a session starts with."""
    h = config.hyperparameters()
    segments = (
        f", demo-state segments from {demo_info['n_trajectories']} trajectories (p_demo "
        f"{config.p_demo}, p_reset {config.p_reset}, beta {config.beta})" if demo_info else ""
    )  # fmt: skip
    return (
        f"{h.algo.upper()}+HER ({config.preset}) on {config.env}: steps {run.start} -> "
        f"{config.timesteps}, T={episode_steps}, gamma={hp['gamma']:.4f}, n_envs={h.n_envs}"
        f"{segments}, out={run.run_dir}"
    )


def run(config: HerConfig) -> dict[str, Any]:
    """Train (or resume) one HER run as described by ``config``; returns the summary.

    The run folder is locked for the whole run: a second process on it stops at once.
    """
    with run_folder_lock(config.run_dir):
        return _train(config)


def _train(config: HerConfig) -> dict[str, Any]:
    """The run itself (see :func:`run`)."""
    check_device(config.device)
    configure_torch(config.threads)
    # everything the user can get wrong is checked before the run folder is touched
    episode_steps = episode_length(config.env)
    make_goal_env(config.env).close()  # a goal env (HER needs compute_reward)
    hp = resolve_hyperparameters(config, episode_steps)
    h = config.hyperparameters()
    demos, demo_info = load_demo_states(config)
    run_config = {
        **config.resolved_dict(),
        "runner": "baselines.her",
        "episode_steps": episode_steps,
    }
    run = SB3Run(
        config.run_dir, run_config, seed=config.seed, resume=config.resume,
        resume_may_change=RESUME_MAY_CHANGE, timesteps=config.timesteps,
        checkpoint_freq=config.checkpoint_freq, verbose=config.verbose, log=log,
    )  # fmt: skip
    with run.setting_up() as ckpt:
        record_inputs(run.run_dir, config, hp, demo_info)
        env_seed = config.seed + run.start  # each session its own seeds: a resume replays no goals
        set_random_seed(env_seed)
        base, train_env, vecnorm = make_train_envs(config, demos, ckpt, env_seed, episode_steps)
        eval_env, _ = make_envs(
            config.env, 1, config.seed + EVAL_SEED_OFFSET, h.normalize, training=False,
            wrappers=eval_wrappers(config),
        )  # fmt: skip
        if ckpt is not None:
            model = restore_model(ALGO_CLASSES[h.algo], ckpt, train_env, device=config.device)
            model.set_random_seed(env_seed)
        else:
            model = build_model(config, hp, train_env)
        run.attach(model)

    sessions = SessionLog(run, config.timesteps)
    run.evaluate_with(eval_env, freq=config.eval_freq, episodes=config.eval_episodes, seed=config.seed + EVAL_SEED_OFFSET)  # fmt: skip
    segment_envs = base if demos is not None else None
    run.checkpoint_with(
        vecnormalize=vecnorm, extra_state=sessions.state,
        extra_files=(lambda: scheduler_files(base)) if segment_envs is not None else None,
    )  # fmt: skip
    log(describe(config, hp, episode_steps, demo_info, run), config.verbose)
    run.learn(log_interval=10, progress=config.progress, postfix=progress_postfix(segment_envs))
    video = save_final_artefacts(run.run_dir, model, config, vecnorm)
    summary = summarise(run, config, sessions, demo_info, video)
    run.write_summary(summary)
    train_env.close()
    eval_env.close()
    final = summary["final_eval"] or {}
    log(f"done: {model.num_timesteps} steps, success_final={final.get('success_final')}, success_any={final.get('success_any')}, wall {summary['wall_time_s']} s", config.verbose)  # fmt: skip
    return summary


def summarise(
    run: SB3Run,
    config: HerConfig,
    sessions: SessionLog,
    demo_info: dict[str, Any],
    video: Path | None,
) -> dict[str, Any]:
    """What ``summary.json`` holds about a finished session."""
    history = run.history
    steps_per_s = run.steps_per_s()
    return {
        "env": config.env,
        "algo": config.hyperparameters().algo,
        "preset": config.preset,
        "seed": config.seed,
        "demos": demo_info or None,
        "num_timesteps": int(run.model.num_timesteps),
        "final_eval": history[-1] if history else None,
        "best_success_final": max(r["success_final"] for r in history),
        "best_success_any": max(r["success_any"] for r in history),
        "wall_time_s": round(run.clock.total(), 1),
        "sessions": sessions.state()["sessions"],  # closed at the true end
        "session_steps_per_s": steps_per_s,
        "video": str(video.relative_to(run.run_dir)) if video else None,
    }
