"""Demonstrations for TD3+demos: trajectory files from TOPDM, shipped or the user's own.

A demo folder holds trajectory files (``NAME.npz`` + ``NAME.json``, see
:mod:`baselines.common.trajectory`), directly or inside a TOPDM run folder
(``traj_NNN/trajectory.npz``). The package ships PenSpin-v0 demonstrations made by our TOPDM
(``python -m baselines.topdm --env PenSpin-v0 --preset demos``; see docs/td3_demos.md), so a fresh
install trains without regenerating them. Only the demonstrations' *states* are used, as segment
start points; their transitions never enter the replay buffer.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from baselines.common.envs import register_env_packages
from baselines.common.trajectory import (
    Trajectory,
    TrajectoryFileError,
    load_trajectory,
    save_trajectory,
)
from baselines.td3_demos.wrappers import DemoStates, demo_states_from_trajectories
from dexterous_gym.simulation import state_slices

SHIPPED_DIR = Path(__file__).resolve().parent / "demos"
# The height below which the original PenSpin reward charged -10 per pen end (until July 2020):
# a pen end below it has left the hand. The authors' own demonstrations keep both ends above it.
PEN_DROP_HEIGHT = 0.12


class DemoFolderError(ValueError):
    """A demo folder is missing, empty, damaged, or holds another env's trajectories."""


def shipped_demos(env_id: str) -> Path:
    """The folder of demonstrations shipped for ``env_id``; ``DemoFolderError`` if there is none."""
    folder = SHIPPED_DIR / env_id
    if not folder.is_dir():
        shipped = sorted(p.name for p in SHIPPED_DIR.iterdir() if p.is_dir()) if SHIPPED_DIR.is_dir() else []  # fmt: skip
        raise DemoFolderError(
            f"--demos: no demonstrations are shipped for {env_id} (shipped: {shipped}); "
            "pass --demos DIR with TOPDM trajectories of this env, or --no-demos"
        )
    return folder


def _demo_env_matches(demo_env: str, env_id: str) -> bool:
    # dense and sparse variants of a task share their states: demos of EggHandOver-v0 serve
    # EggHandOverSparse-v0
    return demo_env == env_id or demo_env == env_id.replace("Sparse-", "-")


def trajectory_files(folder: Path) -> list[Path]:
    """The trajectory files in ``folder`` (flat, or in a TOPDM run folder's ``traj_NNN/``)."""
    return sorted(set(folder.glob("*.npz")) | set(folder.glob("traj_*/trajectory.npz")))


def load_demos(folder: str | Path, env_id: str) -> list[Trajectory]:
    """Load and check every trajectory of ``folder`` for ``env_id``, before any training: each
    file must load, be of ``env_id`` (or its dense twin) and hold states the env accepts
    (``check_state_batch``); the first failure is one :class:`DemoFolderError` naming the file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DemoFolderError(f"--demos {folder}: no such folder")
    files = trajectory_files(folder)
    if not files:
        raise DemoFolderError(
            f"--demos {folder}: holds no trajectory files (NAME.npz + NAME.json, or "
            "traj_NNN/trajectory.npz of a TOPDM run)"
        )
    trajectories = []
    for path in files:
        try:
            traj = load_trajectory(path)
        except TrajectoryFileError as err:
            raise DemoFolderError(f"--demos: {err}") from None
        if not _demo_env_matches(str(traj.meta["env_id"]), env_id):
            raise DemoFolderError(
                f"--demos: {path} is a trajectory of {traj.meta['env_id']}, not of {env_id}"
            )
        verification = traj.meta.get("verification")
        if isinstance(verification, dict) and verification.get("agrees") is False:
            # imported by import-scdm and flagged there: usable, but never as if it agreed
            warnings.warn(
                f"--demos: {path} disagrees with {traj.meta['env_id']} beyond the import "
                f"tolerances ({'; '.join(verification.get('problems', []))})",
                stacklevel=2,
            )
        try:
            _state_checker(env_id)(traj.states, name=f"{path.name} states")
        except ValueError as err:
            raise DemoFolderError(f"--demos: {path}: {err}") from None
        trajectories.append(traj)
    return trajectories


@functools.cache
def _state_checker(env_id: str) -> Callable[..., None]:
    """``check_state_batch`` of ``env_id``'s env (one env per ID, made once)."""
    register_env_packages()
    unwrapped = gym.make(env_id).unwrapped
    check = getattr(unwrapped, "check_state_batch", None)
    return check if check is not None else (lambda states, name: None)


def demos_record(folder: Path, trajectories: list[Trajectory]) -> dict[str, Any]:
    """What a run records about its demonstrations (``demos.json``): the folder as given (or
    ``shipped:<EnvID>`` for the package's own, never an absolute machine path), counts, returns,
    and a SHA-256 of every trajectory's states and actions, which ``--resume`` compares."""
    digest = hashlib.sha256()
    for traj in trajectories:
        digest.update(np.ascontiguousarray(traj.states, dtype=np.float64).tobytes())
        digest.update(np.ascontiguousarray(traj.actions, dtype=np.float64).tobytes())
    return {
        "demos": demo_label(folder),
        "n_trajectories": len(trajectories),
        "n_states": int(sum(len(t.states) for t in trajectories)),
        "mean_return": mean_return(trajectories),
        "returns": [float(t.rewards.sum()) for t in trajectories],
        "sha256": digest.hexdigest(),
    }


def demo_label(folder: str | Path) -> str:
    """``shipped:<EnvID>`` for the package's own demonstrations, else the folder as given."""
    folder = Path(folder)
    return f"shipped:{folder.name}" if folder.resolve().parent == SHIPPED_DIR.resolve() else str(folder)  # fmt: skip


def check_same_demos(saved: dict[str, Any], current: dict[str, Any], run_dir: Path) -> None:
    """Refuse a ``--resume`` whose demonstrations differ from the ones the run started with
    (compared by SHA-256; a record written before it existed, by counts and returns)."""
    keys = ("sha256",) if "sha256" in saved else ("n_trajectories", "n_states", "returns")
    differs = [k for k in keys if saved.get(k) != current.get(k)]
    if differs:
        raise DemoFolderError(
            f"--demos: the demonstrations differ from the ones {run_dir} started with "
            f"({', '.join(differs)} differ; the run used {saved.get('demos')!r} with "
            f"{saved.get('n_trajectories')} trajectories): pass the same demonstrations to "
            "--resume, or start a new run in another --out folder"
        )


def demo_states(trajectories: list[Trajectory], env_id: str) -> DemoStates:
    """The pooled start points of ``trajectories``."""
    return demo_states_from_trajectories(trajectories, env_id, trajectories[0].actions.shape[1])


def mean_return(trajectories: list[Trajectory]) -> float:
    """The demonstrations' mean return (the horizontal line of the learning-curve figure)."""
    return float(np.mean([t.rewards.sum() for t in trajectories]))


@dataclass(frozen=True)
class DemoSummary:
    """What one demonstration does under the env's own reward (``describe_demos``)."""

    name: str  # the file, relative to the folder it was found in
    seed: int | None
    steps: int  # actions in the file
    total_return: float  # the stored rewards' sum (the env's reward)
    lowest_end_z: float | None  # PenSpin: the lowest pen end over all states (m); else None
    pen_lost_at: int | None  # PenSpin: first state index with a pen end below PEN_DROP_HEIGHT

    @property
    def return_per_step(self) -> float:
        return self.total_return / max(self.steps, 1)


def describe_demos(source: str | Path, env_id: str) -> list[DemoSummary]:
    """Return, length and (for PenSpin) where the pen leaves the hand, of every demonstration in
    ``source`` (a folder, checked by :func:`load_demos`, or one trajectory file). The pen-end
    heights come from the env's own ``evaluate`` of the stored states (its ``z_bottom`` and
    ``z_top`` terms), so they need no replay."""
    source = Path(source)
    if source.is_dir():
        pairs = list(zip(trajectory_files(source), load_demos(source, env_id), strict=True))
        names = [path.relative_to(source).as_posix() for path, _ in pairs]
    else:
        pairs = [(source, load_trajectory(source))]
        names = [source.name]
    register_env_packages()
    env = gym.make(env_id).unwrapped
    evaluate, layout = getattr(env, "evaluate", None), getattr(env, "state_layout", None)
    summaries = []
    for name, (_, traj) in zip(names, pairs, strict=True):
        lowest = lost = None
        if evaluate is not None and layout is not None:
            parts = layout.split(traj.states)
            slices = state_slices(env.model)  # type: ignore[attr-defined]  # a MuJoCo env (has evaluate)
            terms = evaluate(parts.physics[:, slices["qpos"]], parts.physics[:, slices["qvel"]], parts.goal).terms  # fmt: skip
            if "z_bottom" in terms and "z_top" in terms:
                ends = np.minimum(terms["z_bottom"], terms["z_top"])
                lowest = float(ends.min())
                below = np.flatnonzero(ends < PEN_DROP_HEIGHT)
                lost = int(below[0]) if below.size else None
        seed = traj.meta.get("seed")
        summaries.append(
            DemoSummary(
                name=name,
                seed=int(seed) if isinstance(seed, int) else None,
                steps=len(traj.actions),
                total_return=float(traj.rewards.sum()),
                lowest_end_z=lowest,
                pen_lost_at=lost,
            )
        )
    env.close()
    return summaries


def summaries_table(summaries: list[DemoSummary]) -> str:
    """A Markdown table of :func:`describe_demos`' results, one row per demonstration."""
    rows = [
        "| demonstration | steps | return | per step | lowest pen end (m) | first pen end below z = 0.12 |",
        "|---|---|---|---|---|---|",
    ]
    for s in summaries:
        lowest = "n/a" if s.lowest_end_z is None else f"{s.lowest_end_z:.4f}"
        lost = "n/a" if s.lowest_end_z is None else ("never" if s.pen_lost_at is None else str(s.pen_lost_at))  # fmt: skip
        rows.append(f"| {s.name} | {s.steps} | {s.total_return:.2f} | {s.return_per_step:.2f} | {lowest} | {lost} |")  # fmt: skip
    mean = float(np.mean([s.total_return for s in summaries])) if summaries else float("nan")
    rows.append(f"| **mean of {len(summaries)}** | | **{mean:.2f}** | | | |")
    return "\n".join(rows)


def pack_demos(sources: list[Path], dest: Path, env_id: str) -> list[Path]:
    """Copy the trajectories of ``sources`` (files or folders) into ``dest`` as compressed files
    named ``<planner>_seed<S>.npz``; refuses to overwrite a file that is already there."""
    trajectories: list[Trajectory] = []
    for source in sources:
        trajectories += load_demos(source, env_id) if source.is_dir() else [load_trajectory(source)]
    written = []
    for traj in trajectories:
        if not _demo_env_matches(str(traj.meta["env_id"]), env_id):
            raise DemoFolderError(f"a trajectory of {traj.meta['env_id']} is not one of {env_id}")
        path = dest / f"{traj.meta['planner']}_seed{traj.meta['seed']}.npz"
        if path.exists():
            raise DemoFolderError(f"{path} exists already; not overwriting it")
        arrays = {k: getattr(traj, k) for k in ("start_state", "actions", "rewards", "success", "states")}  # fmt: skip
        written.append(save_trajectory(path, arrays, dict(traj.meta)))
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m baselines.td3_demos.demos SRC... --env ID (--out DIR | --describe)``: pack
    demonstrations into a demo folder, or describe them (a Markdown table on stdout)."""

    parser = argparse.ArgumentParser(
        prog="python -m baselines.td3_demos.demos",
        description="Copy TOPDM trajectories (files or run folders) into a demo folder, compressed; "
        "or describe them: return, length and, for PenSpin, the step at which the pen is lost.",
    )
    parser.add_argument("sources", nargs="+", type=Path, help="trajectory files or run folders")
    parser.add_argument("--env", required=True, help="env ID the demonstrations are for (required)")
    parser.add_argument("--out", type=Path, help="demo folder to write")
    parser.add_argument(
        "--describe",
        action="store_true",
        help="print a table of the demonstrations (of --out after packing, else of the sources)",
    )
    args = parser.parse_args(argv)
    if args.out is None and not args.describe:
        parser.error("give --out DIR (pack the demonstrations), --describe, or both")
    try:
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            for path in pack_demos(args.sources, args.out, args.env):
                print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
        if args.describe:
            for source in [args.out] if args.out is not None else args.sources:
                print(f"\n{source}:\n")
                print(summaries_table(describe_demos(source, args.env)))
    except (DemoFolderError, TrajectoryFileError) as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
