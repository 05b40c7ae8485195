"""The trajectory generator (fact sheet 1.4): receding horizon, annealed iterations, checkpoints.

Each trajectory lives in ``RUN_DIR/traj_NNN/``: ``checkpoint.npz`` (rewritten atomically after
every completed control step, with the RNG state, so ``--resume`` continues it and reproduces the
uninterrupted run), then ``trajectory.npz``/``.json``, ``summary.json`` and a GIF video.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from baselines.common.runfolder import atomic_write, read_json, write_json
from baselines.topdm.config import TopdmConfig, iterations_at
from baselines.topdm.planner import MppiPlanner, TopdmPlanner
from baselines.topdm.trajectory import save_trajectory
from dexterous_gym.rollout import BatchedRollout

CHECKPOINT = "checkpoint.npz"


def _save_checkpoint(path: Path, ckpt: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    arrays = {k: np.asarray(v) for k, v in ckpt.items() if k != "rng"}
    arrays["rng"] = np.array(json.dumps(ckpt["rng"]))
    if arrays.get("prev_means") is None or ckpt["prev_means"] is None:
        arrays["prev_means"] = np.zeros(0)
    np.savez(buffer, **arrays)
    atomic_write(path, lambda handle: handle.write(buffer.getvalue()))


def _load_checkpoint(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as data:
        ckpt: dict[str, Any] = {k: data[k] for k in data.files}
    ckpt["rng"] = json.loads(str(ckpt["rng"]))
    if ckpt["prev_means"].size == 0:
        ckpt["prev_means"] = None
    return ckpt


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
) -> dict[str, Any]:
    """Plan and execute one trajectory; returns its summary. ``max_steps`` stops early (tests)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary_path = out_dir / "summary.json"
    if resume and summary_path.exists():
        return read_json(summary_path)
    env = gym.make(env_id).unwrapped  # rollouts and execution never see TimeLimit (1.6 item 1)
    rollout = BatchedRollout(env, n_threads=n_threads)
    planner = (MppiPlanner if mppi else TopdmPlanner)(rollout, config)
    ckpt_path = out_dir / CHECKPOINT
    if resume and ckpt_path.exists():
        ckpt = _load_checkpoint(ckpt_path)
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = ckpt["rng"]
    else:
        env.reset(seed=seed)  # goal and start state from this one reset (1.6 item 8)
        rng = np.random.Generator(np.random.PCG64(seed))
        ckpt = {
            "t": np.int64(0),
            "states": env.get_state()[None],
            "actions": np.zeros((0, rollout.n_actions)),
            "rewards": np.zeros(0),
            "success": np.zeros(0),
            "best_scores": np.zeros(0),
            "prev_action": np.zeros(rollout.n_actions),  # per trajectory (1.6 item 4)
            "prev_means": None,
            "sim_steps": np.int64(0),
            "wall_s": 0.0,
        }
    has_success = rollout.has_goal
    n_steps = config.traj_len if max_steps is None else min(max_steps, config.traj_len)
    start_t = int(ckpt["t"])
    bar = tqdm(total=config.traj_len, initial=start_t, desc=f"{env_id} seed {seed}", leave=False)
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
                "rewards": np.append(ckpt["rewards"], reward),
                "success": np.append(ckpt["success"], success),
                "best_scores": np.append(ckpt["best_scores"], plan.best_score),
                "prev_action": action,
                "prev_means": plan.best_means[1:].copy(),
                "sim_steps": np.int64(int(ckpt["sim_steps"]) + plan.sim_steps),
                "wall_s": float(ckpt["wall_s"]) + dt,
                "rng": rng.bit_generator.state,
            }
            _save_checkpoint(ckpt_path, ckpt)
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
    n_phys = env.sim.physics_state_size
    meta = {
        "env_id": env_id,
        "goal": ckpt["states"][0][n_phys:-1].tolist(),
        "seed": seed,
        "config": config.to_dict(),
        "planner": "mppi" if mppi else "topdm",
    }
    save_trajectory(out_dir / "trajectory.npz", arrays, meta)
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
    """Render states (``get_state()`` vectors) to a GIF with a caption; returns the file name, or
    the error as text (rendering needs a GL backend; the trajectory itself is still valid)."""
    try:
        import imageio.v2 as imageio
        from PIL import Image, ImageDraw

        env = gym.make(env_id, render_mode="rgb_array", width=480, height=320).unwrapped
        frames = []
        for t, state in enumerate(states):
            env.set_state(state)
            # the two hands fill the middle band of the families' default cameras
            image = Image.fromarray(env.render()).crop((40, 60, 440, 260))
            text = f"{title} step {t}".strip()
            if t > 0 and rewards is not None:
                text += f"  r={rewards[t - 1]:.2f}"
            if t > 0 and success is not None and np.isfinite(success[t - 1]):
                text += f"  success={int(success[t - 1])}"
            ImageDraw.Draw(image).text((6, 4), text, fill=(0, 0, 0))
            frames.append(np.asarray(image))
        env.close()
        tmp = path.with_name(f".tmp-{path.name}")
        imageio.mimsave(tmp, frames, duration=1000 * env.dt, loop=0)
        tmp.replace(path)
        return str(path.name)
    except Exception as err:  # no GL backend here: say so in the summary instead of failing
        return f"not written: {type(err).__name__}: {err}"


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
        "planner": "mppi" if mppi else "topdm",
        "n_trajectories": n_trajectories,
        "success_rate_final": float(np.mean(finals)) if finals else None,
        "mean_return": float(np.mean([r["return"] for r in results])),
        "trajectories": results,
    }
    write_json(out / "summary.json", summary)
    return summary
