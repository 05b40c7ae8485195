"""The HER runner: Stable-Baselines3's HerReplayBuffer with DDPG, TD3 or SAC, in a run folder.

Read top to bottom: build envs -> build or restore the model -> callbacks -> learn -> final
evaluation, model, checkpoint and video. Everything reproducibility needs is in the run folder
(see ``baselines.common.runfolder``); ``--resume`` restarts from ``checkpoints/latest.json``.
"""

from __future__ import annotations

import functools
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
from sb3_contrib import TQC
from stable_baselines3 import SAC, HerReplayBuffer
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from baselines.common.callbacks import (
    CheckpointCallback,
    GoalEvalCallback,
    TqdmCallback,
    WallClock,
    finish_learning,
)
from baselines.common.checkpoint import (
    CHECKPOINT_DIR,
    CheckpointError,
    CheckpointStore,
    RunIdentity,
    pickle_writer,
    restore_pickled,
    resume_checkpoint,
)
from baselines.common.envs import (
    GOAL_KEYS,
    Wrapper,
    episode_length,
    make_goal_env,
    make_vec_envs,
    normalize_observations,
)
from baselines.common.logger import make_logger
from baselines.common.runfolder import (
    METRICS_FILE,
    atomic_write,
    read_json,
    run_folder_lock,
    starting_run,
    write_csv,
    write_json,
)
from baselines.common.runtime import check_device, configure_torch
from baselines.common.sb3 import VECNORM_FILE, load_vecnormalize, restore_model
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


def obs_wrappers(args: HerConfig) -> tuple[Wrapper, ...]:
    """The observation clip of the plappert preset (before the normaliser), or nothing."""
    bound = args.hyperparameters().obs_clip
    return (functools.partial(ClipObservation, bound=bound),) if bound is not None else ()


def eval_wrappers(args: HerConfig) -> tuple[Wrapper, ...]:
    """HER+demos acts on previous-action observations; plain HER on the env's own."""
    coupling = (functools.partial(PrevActionWrapper, beta=args.beta),) if args.demos else ()
    return obs_wrappers(args) + coupling


def make_segment_envs(
    args: HerConfig, demos: DemoStates, seed: int, episode_steps: int
) -> DummyVecEnv:
    """HER+demos' training envs: one demo-state segment env per env (its three inner envs are
    seeded ``seed + 3 i``, ``+ 1``, ``+ 2``). Segments end with ``truncated``, so each is one
    HER episode: relabelled goals come from the same segment."""

    def factory(i: int) -> Any:
        return lambda: make_segment_env(
            args.env, demos, seed=seed + 3 * i, beta=args.beta, segment_steps=args.segment_steps,
            episode_steps=episode_steps, p_demo=args.p_demo, p_reset=args.p_reset,
            decay=args.decay,
        )  # fmt: skip

    return DummyVecEnv([factory(i) for i in range(args.hyperparameters().n_envs)])


def restore_schedulers(base: VecEnv, path: Path) -> None:
    """Put every segment env back where the checkpoint's scheduler file found it."""

    def restore(snapshots: Any) -> None:
        if not isinstance(snapshots, list) or len(snapshots) != base.num_envs:
            raise ValueError(f"expected {base.num_envs} env snapshots")
        for i, snapshot in enumerate(snapshots):
            base.env_method("restore", snapshot, indices=[i])

    restore_pickled(path, restore)


def build_model(args: HerConfig, hp: dict[str, Any], env: VecEnv) -> OffPolicyAlgorithm:
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
    return ALGO_CLASSES[args.hyperparameters().algo](
        PenalisedMultiInputPolicy if penalised else "MultiInputPolicy",
        env,
        replay_buffer_class=HerReplayBuffer,
        seed=args.seed,
        device=args.device,
        verbose=0,
        **kwargs,
    )


def save_final_artefacts(
    run_dir: Path,
    model: OffPolicyAlgorithm,
    args: HerConfig,
    vecnorm: VecNormalize | None,
) -> Path | None:
    """``final_model.zip`` (+ normaliser) and a video of one deterministic evaluation episode."""
    atomic_write(run_dir / "final_model.zip", model.save)
    if vecnorm is not None:
        atomic_write(run_dir / "final_vecnormalize.pkl", lambda h: pickle.dump(vecnorm, h))
    if not args.video:
        return None

    def video_env() -> Any:
        env = make_goal_env(args.env, render_mode="rgb_array")
        for wrap in eval_wrappers(args):
            env = wrap(env)
        return env

    return record_policy_video(
        video_env,
        model,
        vecnorm,
        run_dir / "videos" / "eval_episode",
        seed=args.seed + EVAL_SEED_OFFSET,
    )


def run(args: HerConfig) -> dict[str, Any]:
    """Train (or resume) one HER run as described by ``args``; returns the summary.

    The run folder is locked for the whole run: a second process on it stops at once.
    """
    with run_folder_lock(args.run_dir):
        return _train(args)


def _train(args: HerConfig) -> dict[str, Any]:
    """The run itself (see :func:`run`)."""
    verbose = args.verbose
    check_device(args.device)
    configure_torch(args.threads)
    # everything the user can get wrong is checked before the run folder is touched
    episode_steps = episode_length(args.env)
    make_goal_env(args.env).close()  # a goal env (HER needs compute_reward)
    hp = resolve_hyperparameters(args, episode_steps)
    h = args.hyperparameters()
    demos: DemoStates | None = None
    demo_info: dict[str, Any] = {}
    if args.demos:  # bad demo folders fail before the run folder is touched
        trajectories = [t for folder in args.demos for t in load_demos(folder, args.env)]
        demos = demo_states(trajectories, args.env)
        demo_info = {
            **demos_record(Path(args.demos[0]), trajectories),
            "demos": [demo_label(folder) for folder in args.demos],
            "successes": int(sum(bool(t.success[-1]) for t in trajectories)),
        }
    config = {**args.resolved_dict(), "runner": "baselines.her", "episode_steps": episode_steps}
    store = CheckpointStore(
        args.run_dir / CHECKPOINT_DIR, RunIdentity.of(config, args.seed, ignore=RESUME_MAY_CHANGE)
    )
    algo_cls = ALGO_CLASSES[h.algo]
    # the set-up: if it fails, nothing of this start is left to block the corrected rerun
    with starting_run(args.run_dir, config, args.resume, RESUME_MAY_CHANGE) as run_dir:
        ckpt = resume_checkpoint(store, run_dir, args.resume, args.checkpoint_freq)
        if ckpt is not None and h.normalize and not ckpt.has(VECNORM_FILE):
            raise CheckpointError(
                f"{ckpt.path / VECNORM_FILE}: missing; resuming with fresh normaliser statistics "
                "would change the run (restore the file, or start a new run in another --out folder)"
            )
        start = ckpt.num_timesteps if ckpt else 0
        if start > args.timesteps:
            raise ValueError(
                f"--timesteps {args.timesteps} is below the checkpoint's {start} steps; "
                "pass a larger total to extend the run"
            )
        if not args.resume:  # a resumed model keeps the hyperparameters saved in its checkpoint
            write_json(
                run_dir / "hyperparameters.json", {"algo": h.algo, "preset": args.preset, **hp}
            )
            if demos is not None:
                write_json(run_dir / "demos.json", demo_info)
        elif demos is not None and (run_dir / "demos.json").is_file():
            check_same_demos(read_json(run_dir / "demos.json", expect=dict), demo_info, run_dir)
        state: dict[str, Any] = dict(ckpt.state) if ckpt else {}
        history: list[dict[str, Any]] = list(state.get("eval_history", []))
        sessions: list[dict[str, Any]] = list(state.get("sessions", []))
        clock = WallClock(offset=float(state.get("wall_time_s", 0.0)))

        # Each session gets its own env seeds so a resumed run does not replay the same goals.
        env_seed = args.seed + start
        set_random_seed(env_seed)
        if demos is not None:
            # HER+demos: the segment envs, restored to their checkpointed schedulers below
            base: VecEnv = make_segment_envs(args, demos, env_seed, episode_steps)
            if ckpt is not None:
                restore_schedulers(base, ckpt.file(SCHEDULER_FILE))
            if ckpt is not None and ckpt.has(VECNORM_FILE):
                train_env: VecEnv = load_vecnormalize(ckpt.file(VECNORM_FILE), base, training=True)
            else:
                train_env = normalize_observations(base, True, GOAL_KEYS) if h.normalize else base  # fmt: skip
            vecnorm: VecNormalize | None = train_env if h.normalize else None  # type: ignore[assignment]
        elif ckpt is not None and ckpt.has(VECNORM_FILE):
            base, _ = make_envs(args.env, h.n_envs, env_seed, normalize=False, training=True, wrappers=obs_wrappers(args))  # fmt: skip
            train_env = load_vecnormalize(ckpt.file(VECNORM_FILE), base, training=True)
            vecnorm = train_env
        else:
            train_env, vecnorm = make_envs(args.env, h.n_envs, env_seed, h.normalize, True, obs_wrappers(args))  # fmt: skip
            base = train_env
        eval_env, _ = make_envs(
            args.env, 1, args.seed + EVAL_SEED_OFFSET, h.normalize, training=False,
            wrappers=eval_wrappers(args),
        )  # fmt: skip

        if ckpt is not None:
            log(f"resuming {run_dir} from checkpoint {ckpt.path.name} ({start} steps)", verbose)
            model = restore_model(algo_cls, ckpt, train_env, device=args.device)
            model.set_random_seed(env_seed)
            # The metrics file may hold evaluations made after the checkpoint: roll it back.
            write_csv(run_dir / METRICS_FILE, history, fieldnames=GoalEvalCallback.FIELDS)
        else:
            if args.resume:
                log(f"--resume: {run_dir} has no checkpoint yet, starting from step 0", verbose)
                history, sessions = [], []
                write_csv(run_dir / METRICS_FILE, history, fieldnames=GoalEvalCallback.FIELDS)
            model = build_model(args, hp, train_env)
        model.set_logger(make_logger(run_dir, start_timesteps=start, stdout=verbose >= 2))

    sessions.append({"start_timesteps": start, "target_timesteps": args.timesteps})

    def current_state() -> dict[str, Any]:
        sessions[-1]["end_timesteps"] = int(model.num_timesteps)
        sessions[-1]["wall_time_s"] = round(clock.session(), 2)
        return {
            "eval_history": eval_cb.history,
            "wall_time_s": round(clock.total(), 2),
            "sessions": sessions,
            "target_timesteps": args.timesteps,
        }

    eval_cb = GoalEvalCallback(
        eval_env,
        eval_freq=args.eval_freq,
        n_episodes=args.eval_episodes,
        metrics_path=run_dir / METRICS_FILE,
        clock=clock,
        seed=args.seed + EVAL_SEED_OFFSET,
        history=history,
        verbose=verbose,
    )
    ckpt_cb = CheckpointCallback(
        store, args.checkpoint_freq, current_state, vecnormalize=vecnorm, verbose=verbose,
        extra_writers=(lambda: {SCHEDULER_FILE: pickle_writer(lambda: base.env_method("snapshot"))}) if demos is not None else None,
    )  # fmt: skip
    if ckpt is not None:  # a resume that adds no step writes no new checkpoint
        ckpt_cb.last_saved = start
    callbacks = [eval_cb, ckpt_cb]
    if args.progress:

        def postfix(last: dict[str, Any]) -> dict[str, str]:
            fields = {k: f"{last[k]:.2f}" for k in ("success_final", "success_any")}
            if demos is not None:
                fields["p_demo"] = f"{base.env_method('probabilities')[0]['demo']:.3f}"
            return fields

        callbacks.append(TqdmCallback(args.timesteps, eval_cb, postfix=postfix))

    remaining = args.timesteps - start
    segments = (
        f", demo-state segments from {demo_info['n_trajectories']} trajectories (p_demo "
        f"{args.p_demo}, p_reset {args.p_reset}, beta {args.beta})" if demos is not None else ""
    )  # fmt: skip
    log(
        f"{h.algo.upper()}+HER ({args.preset}) on {args.env}: steps {start} -> {args.timesteps}, "
        f"T={episode_steps}, gamma={hp['gamma']:.4f}, n_envs={h.n_envs}{segments}, out={run_dir}",
        verbose,
    )
    if remaining > 0:
        model.learn(
            total_timesteps=remaining,
            callback=CallbackList(callbacks),
            reset_num_timesteps=False,
            log_interval=10,
        )
    # No rollout starts after learn()'s last training cycle, so evaluate and checkpoint the final
    # state here. (learn() collects whole rollouts: it may pass the target by < one rollout.)
    finish_learning(model, eval_cb, ckpt_cb)
    video = save_final_artefacts(run_dir, model, args, vecnorm)

    session_s = clock.session()
    sessions = current_state()["sessions"]  # close this session's record at the true end
    summary = {
        "env": args.env,
        "algo": h.algo,
        "preset": args.preset,
        "seed": args.seed,
        "demos": demo_info or None,
        "num_timesteps": int(model.num_timesteps),
        "final_eval": eval_cb.last,
        "best_success_final": max(r["success_final"] for r in eval_cb.history),
        "best_success_any": max(r["success_any"] for r in eval_cb.history),
        "wall_time_s": round(clock.total(), 1),
        "sessions": sessions,
        "session_steps_per_s": round((model.num_timesteps - start) / max(session_s, 1e-9), 1),
        "video": str(video.relative_to(run_dir)) if video else None,
    }
    write_json(run_dir / "summary.json", summary)
    train_env.close()
    eval_env.close()
    final = eval_cb.last or {}
    log(
        f"done: {model.num_timesteps} steps, success_final={final.get('success_final')}, "
        f"success_any={final.get('success_any')}, wall {summary['wall_time_s']} s",
        verbose,
    )
    return summary
