"""The trajectory generator: receding horizon, annealed iterations, checkpoints.

Each trajectory lives in ``RUN_DIR/traj_NNN/``: ``checkpoints/`` (the shared checkpoint store of
:mod:`baselines.common.checkpoint`, written after every completed control step with the RNG state,
so ``--resume`` continues it and reproduces the uninterrupted run), then ``trajectory.npz``/
``.json``, ``summary.json`` and a GIF video. Folders written before the shared store hold a single
``checkpoint.npz`` instead; they still resume.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from baselines.common.checkpoint import (
    CHECKPOINT_DIR,
    CheckpointError,
    CheckpointStore,
    RunIdentity,
)
from baselines.common.runfolder import folder_lock, read_json, write_json
from baselines.common.trajectory import TrajectoryFileError, load_trajectory, save_trajectory
from baselines.common.video import caption
from baselines.common.video import write_video as write_frames
from baselines.topdm.config import TopdmConfig, iterations_at, planner_name
from baselines.topdm.planner import MppiPlanner, TopdmPlanner
from dexterous_gym.envs import DexterousMujocoEnv
from dexterous_gym.rollout import BatchedRollout

PLANNER_STATE = "planner_state.npz"  # the file of each checkpoint
LEGACY_CHECKPOINT = "checkpoint.npz"  # the single file of folders written before the store
TRAJECTORY_FILE = "trajectory.npz"  # + trajectory.json, its sidecar
SUMMARY_FILE = "summary.json"


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


def trajectory_identity(env_id: str, config: TopdmConfig, seed: int, mppi: bool) -> RunIdentity:
    """What a trajectory's checkpoints must match: env, planner settings, planner kind, seed."""
    return RunIdentity.of({"env_id": env_id, "config": config.to_dict(), "mppi": mppi}, seed)


def _encode(ckpt: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {k: np.asarray(v) for k, v in ckpt.items() if k != "rng"}
    arrays["rng"] = np.array(json.dumps(ckpt["rng"]))
    if arrays.get("prev_means") is None or ckpt["prev_means"] is None:
        arrays["prev_means"] = np.zeros(0)
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _decode(path: Path) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as data:
            ckpt: dict[str, Any] = {k: data[k] for k in data.files}
        ckpt["rng"] = json.loads(str(ckpt["rng"]))
        if ckpt["prev_means"].size == 0:
            ckpt["prev_means"] = None
        if ckpt["states"].ndim != 2 or ckpt["actions"].ndim != 2 or int(ckpt["t"]) < 0:
            raise ValueError("arrays of the wrong shape")
    except (OSError, ValueError, KeyError, EOFError, TypeError, IndexError, AttributeError, zipfile.BadZipFile) as err:  # fmt: skip
        raise CheckpointError(
            f"{path}: damaged checkpoint ({type(err).__name__}: {err}); restore it, or re-run "
            "this trajectory in another --out folder"
        ) from None
    return ckpt


def _bytes_writer(data: bytes) -> Callable[[Any], object]:
    return lambda handle: handle.write(data)


def read_progress(
    folder: Path, identity: RunIdentity | None = None, repair: bool = True
) -> dict[str, Any] | None:
    """The latest checkpointed state of a trajectory folder (``None`` before its first step).

    Reads the checkpoint store, or the single ``checkpoint.npz`` of older folders. With
    ``identity`` the checkpoint must belong to that trajectory; without, any verified one is read
    (for reports). ``repair=False`` never writes (a lost pointer is not rebuilt): for reports and
    for watching a trajectory that another thread or process runs. Raises
    :class:`CheckpointError` naming a damaged file.
    """
    root = folder / CHECKPOINT_DIR
    if root.exists():
        store = CheckpointStore(root, identity or _identity_on_disk(root))
        ckpt = store.latest(repair=repair)
        if ckpt is not None:
            return _decode(ckpt.file(PLANNER_STATE))
    legacy = folder / LEGACY_CHECKPOINT
    return _decode(legacy) if legacy.exists() else None


def _identity_on_disk(root: Path) -> RunIdentity:
    """The identity recorded by the newest checkpoint under ``root`` (reports only)."""
    for manifest in sorted(root.glob("step_*/manifest.json"), reverse=True):
        try:
            ident = json.loads(manifest.read_text())["identity"]
            return RunIdentity(str(ident["config_hash"]), int(ident["seed"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return RunIdentity("", -1)


def _finished_summary(
    out_dir: Path,
    expected: dict[str, Any],
    progress: Callable[[], dict[str, Any] | None],
    traj_len: int,
) -> dict[str, Any] | None:
    """On ``--resume``: the summary of a finished trajectory, or ``None`` to go on planning.

    A finished trajectory's files (``trajectory.npz``/``.json``, ``summary.json``) must load and
    belong to this trajectory (env, seed, planner, settings in ``expected``); a damaged or foreign
    one stops the resume, naming it, and is left as it is. Missing ones are rebuilt exactly from
    the trajectory's complete checkpoint (``None`` is returned, and the caller writes only what is
    missing); without a complete checkpoint the resume stops too.
    """
    npz = out_dir / TRAJECTORY_FILE
    sidecar = npz.with_suffix(".json")
    summary_path = out_dir / SUMMARY_FILE
    present = [p for p in (npz, sidecar, summary_path) if p.exists()]
    if not present:
        return None  # not finished: continue from the checkpoint

    def complete() -> bool:
        saved = progress()
        return saved is not None and int(saved["t"]) >= traj_len

    def advice(names: str) -> str:
        if complete():
            return f"remove {names} to have it rebuilt from the trajectory's checkpoint"
        return "restore it from a copy, or re-run this seed in another --out folder"

    if npz.exists() and sidecar.exists():
        try:
            traj = load_trajectory(npz)
        except TrajectoryFileError as err:
            raise CheckpointError(
                f"{err}; the trajectory finished but its file is damaged: "
                f"{advice(f'{npz.name} and {sidecar.name}')} (nothing was changed)"
            ) from None
        wrong = {k: traj.meta.get(k) for k, v in expected.items() if traj.meta.get(k) != v}
        if wrong:
            raise CheckpointError(
                f"{sidecar}: a trajectory of another run ({wrong}; this one: "
                f"{ {k: expected[k] for k in wrong} }); it was copied in. Nothing was changed: "
                f"{advice(f'{npz.name} and {sidecar.name}')}"
            )
    elif npz.exists() or sidecar.exists():
        missing = sidecar if npz.exists() else npz
        raise CheckpointError(
            f"{missing}: missing beside {(npz if missing == sidecar else sidecar).name}; nothing "
            f"was changed: {advice('the other file')}"
        )
    summary = None
    if summary_path.exists():
        try:
            summary = read_json(summary_path, expect=dict)
        except ValueError as err:
            raise CheckpointError(f"{err}, or {advice(summary_path.name)}") from None
        wrong = {k: summary.get(k) for k in ("env_id", "seed", "planner") if summary.get(k) != expected[k]}  # fmt: skip
        if wrong:
            raise CheckpointError(
                f"{summary_path}: the summary of another run ({wrong}); it was copied in. "
                f"Nothing was changed: {advice(summary_path.name)}"
            )
    if summary is not None and npz.exists():
        return summary
    if not complete():
        lost = [p.name for p in (npz, sidecar, summary_path) if not p.exists()]
        raise CheckpointError(
            f"{out_dir}: the trajectory finished but {', '.join(lost)} "
            f"{'is' if len(lost) == 1 else 'are'} missing and its checkpoint is not complete, so "
            "they cannot be rebuilt; nothing was changed: restore them from a copy, or re-run "
            "this seed in another --out folder"
        )
    return None


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
) -> dict[str, Any]:
    """Plan and execute one trajectory; returns its summary. ``max_steps`` stops early (tests);
    ``progress_bar=False`` leaves the display to a caller that runs many (the campaign).

    The folder is locked while this runs (:func:`~baselines.common.runfolder.folder_lock`): a
    second process on the same trajectory gets :class:`FolderBusyError` instead of interleaving
    its checkpoints with this one's.
    """
    if not resume:
        found = [n for n in (CHECKPOINT_DIR, LEGACY_CHECKPOINT, TRAJECTORY_FILE, SUMMARY_FILE) if (out_dir / n).exists()]  # fmt: skip
        if found:
            raise FileExistsError(
                f"{out_dir} already holds a trajectory ({', '.join(found)}); pass resume=True "
                "(--resume) to continue it, or choose a new folder"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    with folder_lock(out_dir):
        return _run_trajectory(
            env_id, config, seed, out_dir, mppi, resume, n_threads, video, max_steps, progress_bar
        )


def _run_trajectory(
    env_id: str,
    config: TopdmConfig,
    seed: int,
    out_dir: Path,
    mppi: bool,
    resume: bool,
    n_threads: int | None,
    video: bool,
    max_steps: int | None,
    progress_bar: bool,
) -> dict[str, Any]:
    summary_path = out_dir / SUMMARY_FILE
    identity = trajectory_identity(env_id, config, seed, mppi)
    store = CheckpointStore(out_dir / CHECKPOINT_DIR, identity)
    kind = planner_name(mppi)
    expected = {"env_id": env_id, "seed": seed, "planner": kind, "config": config.to_dict()}
    saved = None
    if resume:
        cache: list[dict[str, Any] | None] = []

        def progress() -> dict[str, Any] | None:
            if not cache:
                cache.append(read_progress(out_dir, identity))
            return cache[0]

        finished = _finished_summary(out_dir, expected, progress, config.traj_len)
        if finished is not None:
            return finished
        saved = progress()
    # rollouts and execution never see TimeLimit: truncation must not stop a rollout
    env = dexterous_env(env_id)
    rollout = BatchedRollout(env, n_threads=n_threads)
    planner = (MppiPlanner if mppi else TopdmPlanner)(rollout, config)
    if saved is not None:
        if saved["states"].shape[-1] != env.state_size:
            raise CheckpointError(
                f"{out_dir}: the checkpoint's states have {saved['states'].shape[-1]} entries, "
                f"{env_id}'s have {env.state_size}; start a new run in another --out folder"
            )
        ckpt = dict(saved)
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = ckpt["rng"]
    else:
        # goal and start state come from this one reset (the original reset twice)
        env.reset(seed=seed)
        rng = np.random.Generator(np.random.PCG64(seed))
        ckpt = {
            "t": np.int64(0),
            "states": env.get_state()[None],
            "actions": np.zeros((0, rollout.n_actions)),
            "rewards": np.zeros(0),
            "success": np.zeros(0),
            "best_scores": np.zeros(0),
            # per trajectory: the original reset a misspelt attribute, carrying the last action over
            "prev_action": np.zeros(rollout.n_actions),
            "prev_means": None,
            "sim_steps": np.int64(0),
            "wall_s": 0.0,
        }
    has_success = rollout.has_goal
    n_steps = config.traj_len if max_steps is None else min(max_steps, config.traj_len)
    start_t = int(ckpt["t"])
    bar = tqdm(
        total=config.traj_len,
        initial=start_t,
        desc=f"{env_id} seed {seed}",
        leave=False,
        disable=not progress_bar,
    )
    try:
        for t in range(start_t, n_steps):
            tic = time.perf_counter()
            state = ckpt["states"][-1]
            n_it = iterations_at(t, config.k0, config.traj_len, config.anneal)
            plan = planner.plan(state, ckpt["prev_action"], ckpt["prev_means"], n_it, rng)
            action = plan.best_actions[0].copy()  # the first executed action, not the mean
            env.set_state(state)
            _, reward, _, _, info = env.step(action)
            success = float(info["is_success"]) if has_success else np.nan
            dt = time.perf_counter() - tic
            ckpt = {
                "t": np.int64(t + 1),
                "states": np.vstack([ckpt["states"], env.get_state()[None]]),
                "actions": np.vstack([ckpt["actions"], action[None]]),
                "rewards": np.append(ckpt["rewards"], float(reward)),
                "success": np.append(ckpt["success"], success),
                "best_scores": np.append(ckpt["best_scores"], plan.best_score),
                "prev_action": action,
                "prev_means": plan.best_means[1:].copy(),
                "sim_steps": np.int64(int(ckpt["sim_steps"]) + plan.sim_steps),
                "wall_s": float(ckpt["wall_s"]) + dt,
                "rng": rng.bit_generator.state,
            }
            payload = _encode(ckpt)
            store.save(t + 1, {PLANNER_STATE: _bytes_writer(payload)}, {})
            bar.update(1)
            bar.set_postfix(
                step=t,
                success=success,
                reward=f"{reward:.3f}",
                sim_sps=f"{plan.sim_steps / dt:.0f}",
            )
    finally:
        bar.close()
        rollout.close()
    if int(ckpt["t"]) < config.traj_len:
        return {"completed_steps": int(ckpt["t"]), "finished": False}
    arrays = {
        "start_state": ckpt["states"][0],
        "actions": ckpt["actions"],
        "rewards": ckpt["rewards"],
        "success": ckpt["success"],
        "states": ckpt["states"],
    }
    meta = {
        "env_id": env_id,
        "goal": env.state_layout.split(ckpt["states"][0]).goal.tolist(),
        "seed": seed,
        "config": config.to_dict(),
        "planner": kind,
    }
    if (out_dir / TRAJECTORY_FILE).exists():  # on resume, checked intact: it must be this one
        kept = load_trajectory(out_dir / TRAJECTORY_FILE)
        if not all(np.array_equal(getattr(kept, k), v, equal_nan=True) for k, v in arrays.items()):
            raise CheckpointError(
                f"{out_dir / TRAJECTORY_FILE} differs from the trajectory its checkpoint holds; "
                "nothing was changed: restore the folder from a copy, or re-run this seed in "
                "another --out folder"
            )
    else:
        save_trajectory(out_dir / TRAJECTORY_FILE, arrays, meta)
    if summary_path.exists():  # checked intact on resume; only the trajectory was rebuilt
        return read_json(summary_path, expect=dict)
    summary: dict[str, Any] = {
        "finished": True,
        "env_id": env_id,
        "seed": seed,
        "planner": meta["planner"],
        "return": float(np.sum(ckpt["rewards"])),
        "success_final": bool(ckpt["success"][-1] == 1.0) if has_success else None,
        "success_any": bool(np.any(ckpt["success"] == 1.0)) if has_success else None,
        "sim_steps": int(ckpt["sim_steps"]),
        "wall_s": float(ckpt["wall_s"]),
        "sim_steps_per_s": int(ckpt["sim_steps"]) / max(float(ckpt["wall_s"]), 1e-9),
    }
    if video:
        title = f"{meta['planner'].upper()} {env_id} seed {seed}"
        summary["video"] = write_video(env_id, ckpt["states"], out_dir / "video.gif",
                                       ckpt["rewards"], ckpt["success"], title)  # fmt: skip
    write_json(summary_path, summary)
    return summary


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
    kind = planner_name(mppi)
    for i in range(n_trajectories):
        folder = out / f"traj_{i:03d}"
        if not folder.exists():
            continue
        identity = trajectory_identity(env_id, config, seed + i, mppi)
        expected = {"env_id": env_id, "seed": seed + i, "planner": kind, "config": config.to_dict()}  # fmt: skip
        cache: list[dict[str, Any] | None] = []

        def progress(folder: Path = folder, identity: RunIdentity = identity, cache: list[Any] = cache) -> dict[str, Any] | None:  # fmt: skip
            if not cache:
                cache.append(read_progress(folder, identity))
            return cache[0]

        if _finished_summary(folder, expected, progress, config.traj_len) is None:
            progress()  # an unfinished trajectory continues from its checkpoint: it must verify


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
        results.append(
            run_trajectory(
                env_id, config, seed + i, out / f"traj_{i:03d}", mppi, resume, n_threads, video
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
