"""The trajectory generator: receding horizon, annealed iterations, checkpoints.

Each trajectory lives in ``RUN_DIR/traj_NNN/`` (:class:`~baselines.topdm.folder.TrajectoryFolder`):
a checkpoint after every completed control step with the RNG state, so ``--resume`` continues it
and reproduces the uninterrupted run, then ``trajectory.npz``/``.json``, ``summary.json`` and a
GIF video; every file names the trajectory it belongs to.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from baselines.common.checkpoint import CheckpointError
from baselines.common.runfolder import folder_lock, write_json
from baselines.common.trajectory import TrajectoryFileError
from baselines.common.video import caption
from baselines.common.video import write_video as write_frames
from baselines.topdm.config import TopdmConfig, iterations_at, planner_name
from baselines.topdm.folder import (
    ForeignFileError,
    PlannerState,
    TrajectoryFolder,
    TrajectoryIdentity,
)
from baselines.topdm.planner import MppiPlanner, TopdmPlanner
from dexterous_gym.envs import DexterousMujocoEnv
from dexterous_gym.rollout import BatchedRollout


def dexterous_env(env_id: str, **kwargs: Any) -> DexterousMujocoEnv:
    """The unwrapped env of ``env_id``: planners need the state API and must not see TimeLimit."""
    env = gym.make(env_id, **kwargs).unwrapped
    if not isinstance(env, DexterousMujocoEnv):
        raise ValueError(f"--env {env_id}: TOPDM plans on Dexterous Gym envs (it needs get_state/set_state), got {type(env).__name__}")  # fmt: skip
    return env


def run_folder_config(
    env_id: str, preset: str, seed: int, mppi: bool, trajectories: int, config: TopdmConfig
) -> dict[str, Any]:
    """A run folder's ``config.json``: what ``--resume`` checks, and what a campaign's env
    folders share with ``python -m baselines.topdm`` (so either can continue the other's)."""
    return {
        "env": env_id,
        "preset": preset,
        "seed": seed,
        "mppi": mppi,
        "trajectories": trajectories,
        "planner_config": config.to_dict(),
    }


def _finished_summary(
    folder: TrajectoryFolder, progress: Callable[[], PlannerState | None], traj_len: int
) -> dict[str, Any] | None:
    """On ``--resume``: the summary of a finished trajectory, or ``None`` to go on planning.

    A finished trajectory's files (``trajectory.npz``/``.json``, ``summary.json``) must load and
    belong to this trajectory (its identity); a damaged or foreign one stops the resume, naming
    it, and is left as it is. Missing ones are rebuilt exactly from the trajectory's complete
    checkpoint (``None`` is returned, and the caller writes only what is missing); without a
    complete checkpoint the resume stops too.
    """
    npz, sidecar, summary_path = folder.trajectory_file, folder.sidecar, folder.summary_file
    if not any(p.exists() for p in (npz, sidecar, summary_path)):
        return None  # not finished: continue from the checkpoint

    def complete() -> bool:
        saved = progress()
        return saved is not None and saved.t >= traj_len

    def advice(names: str) -> str:
        if complete():
            return f"remove {names} to have it rebuilt from the trajectory's checkpoint"
        return "restore it from a copy, or re-run this seed in another --out folder"

    if npz.exists() and sidecar.exists():
        try:
            folder.load_trajectory(advice(f"{npz.name} and {sidecar.name}"))
        except TrajectoryFileError as err:
            raise CheckpointError(
                f"{err}; the trajectory finished but its file is damaged: "
                f"{advice(f'{npz.name} and {sidecar.name}')} (nothing was changed)"
            ) from None
    elif npz.exists() or sidecar.exists():
        missing = sidecar if npz.exists() else npz
        raise CheckpointError(
            f"{missing}: missing beside {(npz if missing == sidecar else sidecar).name}; nothing "
            f"was changed: {advice('the other file')}"
        )
    summary = None
    if summary_path.exists():
        try:
            summary = folder.read_summary(advice(summary_path.name))
        except ForeignFileError:
            raise
        except ValueError as err:
            raise CheckpointError(f"{err}, or {advice(summary_path.name)}") from None
    if summary is not None and npz.exists():
        return summary
    if not complete():
        lost = [p.name for p in (npz, sidecar, summary_path) if not p.exists()]
        raise CheckpointError(
            f"{folder.path}: the trajectory finished but {', '.join(lost)} "
            f"{'is' if len(lost) == 1 else 'are'} missing and its checkpoint is not complete, so "
            "they cannot be rebuilt; nothing was changed: restore them from a copy, or re-run "
            "this seed in another --out folder"
        )
    return None


def _resume_point(
    folder: TrajectoryFolder, traj_len: int
) -> tuple[dict[str, Any] | None, PlannerState | None]:
    """On ``--resume``: ``(summary, None)`` for a finished trajectory, else ``(None, state)``
    with its latest checkpointed state (``None`` before its first control step)."""
    cache: list[PlannerState | None] = []

    def progress() -> PlannerState | None:
        if not cache:
            cache.append(folder.progress())
        return cache[0]

    finished = _finished_summary(folder, progress, traj_len)
    return (finished, None) if finished is not None else (None, progress())


def run_trajectory(
    env_id: str,
    config: TopdmConfig,
    seed: int,
    out_dir: Path,
    mppi: bool = False,
    resume: bool = False,
    n_threads: int | None = None,
    video: bool = True,
    max_steps: int | None = None,
    progress_bar: bool = True,
    index: int = 0,
) -> dict[str, Any]:
    """Plan and execute one trajectory; returns its summary. ``index`` is its ``traj_NNN`` in
    the run folder (every file of the trajectory records it); ``max_steps`` stops early (tests);
    ``progress_bar=False`` leaves the display to a caller that runs many (the campaign).

    The folder is locked while this runs (:func:`~baselines.common.runfolder.folder_lock`): a
    second process on the same trajectory gets :class:`FolderBusyError` instead of interleaving
    its checkpoints with this one's.
    """
    identity = TrajectoryIdentity.of(env_id, config, mppi, seed, index)
    folder = TrajectoryFolder(out_dir, identity)
    found = folder.contents()
    if found and not resume:
        raise FileExistsError(
            f"{out_dir} already holds a trajectory ({', '.join(found)}); pass resume=True "
            "(--resume) to continue it, or choose a new folder"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    with folder_lock(out_dir):
        saved = None
        if resume:
            finished, saved = _resume_point(folder, config.traj_len)
            if finished is not None:
                return finished
        # rollouts and execution never see TimeLimit: truncation must not stop a rollout
        env = dexterous_env(env_id)
        if saved is not None and saved.states.shape[1] != env.state_layout.size:
            env.close()
            raise CheckpointError(
                f"{folder.path}: the checkpoint's states have {saved.states.shape[1]} entries, "
                f"{env_id}'s have {env.state_layout.size}; re-run this trajectory in another --out folder"
            )
        rollout = BatchedRollout(env, n_threads=n_threads)
        try:
            if saved is None:
                # goal and start state come from this one reset (the original reset twice)
                env.reset(seed=seed)
                rng = np.random.Generator(np.random.PCG64(seed))
                saved = PlannerState.start(identity, env.get_state(), rollout.n_actions, rng)
            planner = (MppiPlanner if mppi else TopdmPlanner)(rollout, config)
            n_steps = config.traj_len if max_steps is None else min(max_steps, config.traj_len)
            bar = tqdm(total=config.traj_len, initial=saved.t, desc=f"{env_id} seed {seed}",
                       leave=False, disable=not progress_bar)  # fmt: skip
            with bar:
                final = _plan_steps(folder, planner, env, config, saved, n_steps, bar)
        finally:
            rollout.close()
        if final.t < config.traj_len:
            return {"completed_steps": final.t, "finished": False}
        return _finish(folder, env, env_id, seed, mppi, config, final, video)


def _plan_steps(
    folder: TrajectoryFolder,
    planner: TopdmPlanner | MppiPlanner,
    env: DexterousMujocoEnv,
    config: TopdmConfig,
    state: PlannerState,
    n_steps: int,
    bar: tqdm[Any],
) -> PlannerState:
    """Control steps ``state.t`` .. ``n_steps - 1``: plan, execute the plan's first action,
    checkpoint; returns the last state."""
    rng = state.generator()
    for t in range(state.t, n_steps):
        tic = time.perf_counter()
        n_it = iterations_at(t, config.k0, config.traj_len, config.anneal)
        plan = planner.plan(state.states[-1], state.prev_action, state.prev_means, n_it, rng)
        action = plan.best_actions[0].copy()  # the first executed action, not the mean
        env.set_state(state.states[-1])
        _, reward, _, _, info = env.step(action)
        success = float(info["is_success"]) if env.has_goal else np.nan
        dt = time.perf_counter() - tic
        state = state.advance(plan, action, env.get_state(), float(reward), success, dt, rng)
        folder.save_progress(state)
        bar.update(1)
        bar.set_postfix(step=t, success=success, reward=f"{reward:.3f}",
                        sim_sps=f"{plan.sim_steps / dt:.0f}")  # fmt: skip
    return state


def _finish(
    folder: TrajectoryFolder,
    env: DexterousMujocoEnv,
    env_id: str,
    seed: int,
    mppi: bool,
    config: TopdmConfig,
    final: PlannerState,
    video: bool,
) -> dict[str, Any]:
    """Write what a finished trajectory's folder lacks (the trajectory file, the summary and
    video); on resume, a kept trajectory file must be the one the checkpoint holds."""
    kind = planner_name(mppi)
    arrays = {"start_state": final.states[0], "actions": final.actions, "rewards": final.rewards,
              "success": final.success, "states": final.states}  # fmt: skip
    if folder.trajectory_file.exists():  # on resume, checked intact: it must be this one
        kept = folder.load_trajectory()
        if not all(np.array_equal(getattr(kept, k), v, equal_nan=True) for k, v in arrays.items()):
            raise CheckpointError(
                f"{folder.trajectory_file} differs from the trajectory its checkpoint holds; "
                "nothing was changed: restore the folder from a copy, or re-run this seed in "
                "another --out folder"
            )
    else:
        goal = env.state_layout.split(final.states[0]).goal.tolist()
        meta = {"env_id": env_id, "goal": goal, "seed": seed, "config": config.to_dict(), "planner": kind}  # fmt: skip
        folder.write_trajectory(arrays, meta)
    if folder.summary_file.exists():  # checked intact on resume; only the trajectory was rebuilt
        return folder.read_summary()
    has_success = env.has_goal
    summary: dict[str, Any] = {
        "finished": True,
        "env_id": env_id,
        "seed": seed,
        "planner": kind,
        "return": float(np.sum(final.rewards)),
        "success_final": bool(final.success[-1] == 1.0) if has_success else None,
        "success_any": bool(np.any(final.success == 1.0)) if has_success else None,
        "sim_steps": final.sim_steps,
        "wall_s": final.wall_s,
        "sim_steps_per_s": final.sim_steps / max(final.wall_s, 1e-9),
    }
    if video:
        summary["video"] = write_video(env_id, final.states, folder.video_file, final.rewards,
                                       final.success, f"{kind.upper()} {env_id} seed {seed}")  # fmt: skip
    return folder.write_summary(summary)


def write_video(
    env_id: str,
    states: np.ndarray,
    path: Path,
    rewards: np.ndarray | None = None,
    success: np.ndarray | None = None,
    title: str = "",
) -> str:
    """Render states (``get_state()`` vectors) to a captioned GIF; returns the file name, or the
    error as text (rendering needs a GL backend; the trajectory itself is still valid)."""
    try:
        env = dexterous_env(env_id, render_mode="rgb_array", width=480, height=320)
        frames = []
        for t, state in enumerate(states):
            env.set_state(state)
            # the two hands fill the middle band of the families' default cameras
            image = env.render()
            assert image is not None  # render_mode="rgb_array"
            frame = image[60:260, 40:440]
            text = f"{title} step {t}".strip()
            if t > 0 and rewards is not None:
                text += f"  r={rewards[t - 1]:.2f}"
            if t > 0 and success is not None and np.isfinite(success[t - 1]):
                text += f"  success={int(success[t - 1])}"
            frames.append(caption(frame, text))
        fps = 1.0 / env.dt
        env.close()
        return str(write_frames(frames, path.with_suffix(".gif"), fps=fps).name)
    except Exception as err:  # no GL backend here: say so in the summary instead of failing
        return f"not written: {type(err).__name__}: {err}"


def check_resume(
    env_id: str, config: TopdmConfig, out: Path, seed: int, n_trajectories: int, mppi: bool
) -> None:
    """The checks ``--resume`` makes on every trajectory folder, before anything is written:
    raises :class:`CheckpointError` naming the first damaged, foreign or inconsistent file."""
    for i in range(n_trajectories):
        path = out / f"traj_{i:03d}"
        if path.exists():
            identity = TrajectoryIdentity.of(env_id, config, mppi, seed + i, i)
            _resume_point(TrajectoryFolder(path, identity), config.traj_len)


def run(
    env_id: str,
    config: TopdmConfig,
    out: Path,
    seed: int,
    n_trajectories: int,
    mppi: bool,
    resume: bool,
    video: bool = True,
    n_threads: int | None = None,
) -> dict[str, Any]:
    """``n_trajectories`` trajectories (seeds seed, seed+1, ...) and the aggregate summary."""
    results = []
    for i in range(n_trajectories):
        folder = out / f"traj_{i:03d}"
        results.append(
            run_trajectory(
                env_id, config, seed + i, folder, mppi, resume, n_threads, video, index=i
            )
        )
    finals = [r["success_final"] for r in results if r.get("success_final") is not None]
    summary = {
        "env_id": env_id,
        "planner": planner_name(mppi),
        "n_trajectories": n_trajectories,
        "success_rate_final": float(np.mean(finals)) if finals else None,
        "mean_return": float(np.mean([r["return"] for r in results])),
        "trajectories": results,
    }
    write_json(out / "summary.json", summary)
    return summary
