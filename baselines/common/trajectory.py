"""Trajectory files (written by TOPDM/MPPI, read by TD3+demos and dataset export): ``NAME.npz`` arrays plus a ``NAME.json`` sidecar.

Arrays: ``start_state`` (S,), ``actions`` (L, d), ``rewards`` (L,), ``success`` (L,) (NaN on envs
without success, e.g. PenSpin), ``states`` (L+1, S) with ``states[0] == start_state``; states
are ``env.unwrapped.get_state()`` vectors, so ``set_state(states[t])`` then ``step(actions[t])``
replays the trajectory. Sidecar: ``format_version``, ``env_id``, ``goal``, ``seed``, ``config``,
``planner``, ``versions`` (package and MuJoCo versions).

A file written by a run (TOPDM/MPPI) also names the run it belongs to: ``run_identity``, a JSON
object, is both an entry of the ``.npz`` (its UTF-8 text as uint8, so that every entry is numeric)
and a key of the sidecar, and the two must agree, so an ``.npz`` swapped in from another
trajectory is refused. Files without a run (the authors' release
imported by :mod:`baselines.scdm`, hand-made demonstrations) have neither.
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from baselines.common.runfolder import atomic_write, write_json
from dexterous_gym.provenance import package_versions

if TYPE_CHECKING:
    from dexterous_gym.simulation import StateLayout

FORMAT_VERSION = 1
ARRAY_KEYS = ("start_state", "actions", "rewards", "success", "states")
META_KEYS = ("format_version", "env_id", "goal", "seed", "config", "planner", "versions")
IDENTITY_KEY = "run_identity"  # optional, in the .npz (JSON text) and in the sidecar


class TrajectoryFileError(ValueError):
    """A trajectory file is missing, damaged, of another version, or inconsistent."""


@dataclass
class Trajectory:
    """One loaded trajectory; ``states[t]`` is reached from ``states[t - 1]`` by ``actions[t - 1]``."""

    start_state: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    success: np.ndarray
    states: np.ndarray
    meta: dict[str, Any]
    identity: dict[str, Any] | None = None  # the run the file belongs to (``run_identity``)


def save_trajectory(
    path: str | Path,
    arrays: dict[str, np.ndarray],
    meta: dict[str, Any],
    identity: dict[str, Any] | None = None,
) -> Path:
    """Write ``path`` (.npz) and its .json sidecar atomically; returns the .npz path.
    ``identity`` (JSON-serialisable) names the run the trajectory belongs to, in both files."""
    path = Path(path).with_suffix(".npz")
    meta = {"format_version": FORMAT_VERSION, "versions": package_versions(), **meta}
    if identity is not None:
        meta[IDENTITY_KEY] = identity
    _check(arrays, meta, path)
    buffer = io.BytesIO()
    payload: dict[str, Any] = {k: np.asarray(arrays[k]) for k in ARRAY_KEYS}
    if identity is not None:
        text = json.dumps(identity, sort_keys=True)
        payload[IDENTITY_KEY] = np.frombuffer(text.encode(), dtype=np.uint8)
    np.savez_compressed(buffer, **payload)  # demos ship as package data: keep them small
    atomic_write(path, lambda handle: handle.write(buffer.getvalue()))
    write_json(path.with_suffix(".json"), meta)
    return path


def load_trajectory(path: str | Path) -> Trajectory:
    """Load and validate a trajectory (.npz path or the sidecar's .json path).

    States of another size than the sidecar's env's are refused. Raises
    :class:`TrajectoryFileError` (a ValueError) naming the file and the problem.
    """
    path = Path(path).with_suffix(".npz")
    sidecar = path.with_suffix(".json")
    for p in (path, sidecar):
        if not p.exists():
            raise TrajectoryFileError(f"{p}: file not found (a trajectory is NAME.npz + NAME.json)")
    try:
        meta = json.loads(sidecar.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise TrajectoryFileError(f"{sidecar}: damaged sidecar, not valid JSON ({err})") from err
    if not isinstance(meta, dict):
        raise TrajectoryFileError(f"{sidecar}: the sidecar must be a JSON object")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise TrajectoryFileError(f"{path}: damaged or not an .npz file ({err})") from err
    _check(arrays, meta, path)
    layout = _state_layout(meta["env_id"])
    if layout is not None and arrays["start_state"].shape != (layout.size,):
        raise TrajectoryFileError(
            f"{path}: its states have {arrays['start_state'].shape[0]} entries, but the sidecar's "
            f"env {meta['env_id']} has states of {layout.size}: the sidecar belongs to another file"
        )
    identity = _identity(arrays, meta, path)
    return Trajectory(**{k: arrays[k] for k in ARRAY_KEYS}, meta=meta, identity=identity)


def _identity(arrays: dict[str, Any], meta: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """The file's run identity; the ``.npz``'s and the sidecar's must be the same (or both absent)."""
    in_arrays = None
    if IDENTITY_KEY in arrays:
        text = arrays[IDENTITY_KEY]
        try:
            if text.dtype != np.uint8 or text.ndim != 1:
                raise ValueError(f"expected UTF-8 bytes (uint8), got {text.dtype} of shape {text.shape}")  # fmt: skip
            in_arrays = json.loads(text.tobytes().decode())
        except (ValueError, UnicodeDecodeError) as err:
            raise TrajectoryFileError(f"{path}: damaged {IDENTITY_KEY} ({err})") from err
    in_sidecar = meta.get(IDENTITY_KEY)
    if in_arrays != in_sidecar:
        raise TrajectoryFileError(
            f"{path}: its arrays belong to {describe_identity(in_arrays)} but its sidecar "
            f"{path.with_suffix('.json').name} to {describe_identity(in_sidecar)}: one of the two "
            "was copied in from another trajectory"
        )
    if in_arrays is not None and not isinstance(in_arrays, dict):
        raise TrajectoryFileError(f"{path}: {IDENTITY_KEY} must be a JSON object, got {in_arrays!r}")  # fmt: skip
    return in_arrays


def describe_identity(identity: Any) -> str:
    """A run identity in words, for messages (``no run`` for files without one)."""
    if identity is None:
        return "no run"
    if isinstance(identity, dict):
        return "run " + " ".join(f"{k}={v}" for k, v in sorted(identity.items()))
    return f"run {identity!r}"


@functools.cache
def _state_layout(env_id: str) -> StateLayout | None:
    """The state layout of ``env_id`` (a Dexterous Gym env), or None for IDs that cannot be
    made or are not Dexterous Gym envs (their states are passed through as they are)."""
    import gymnasium as gym

    from baselines.common.envs import register_env_packages

    try:
        from dexterous_gym.envs import DexterousMujocoEnv

        register_env_packages()
        env = gym.make(env_id)
    except Exception:  # not an env this installation can make
        return None
    unwrapped = env.unwrapped
    env.close()
    return unwrapped.state_layout if isinstance(unwrapped, DexterousMujocoEnv) else None


def _check(arrays: dict[str, Any], meta: dict[str, Any], path: Path) -> None:
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise TrajectoryFileError(f"{path}: format_version {version!r}, this code reads {FORMAT_VERSION}")  # fmt: skip
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise TrajectoryFileError(f"{path}: sidecar is missing {missing}")
    missing = [k for k in ARRAY_KEYS if k not in arrays]
    if missing:
        raise TrajectoryFileError(f"{path}: arrays missing {missing}")
    a = {k: np.asarray(arrays[k]) for k in ARRAY_KEYS}
    for key, array in a.items():
        if array.dtype.kind not in "fiu":
            raise TrajectoryFileError(f"{path}: {key} must hold numbers, got dtype {array.dtype}")
    if not isinstance(meta.get("env_id"), str):
        raise TrajectoryFileError(f"{path}: the sidecar's env_id must be a string, got {meta.get('env_id')!r}")  # fmt: skip
    if a["actions"].ndim != 2:
        raise TrajectoryFileError(f"{path}: actions must be (L, d), got {a['actions'].shape}")
    n_steps = a["actions"].shape[0]
    size = a["start_state"].shape
    expected = {
        "start_state": (size[0],) if len(size) == 1 else None,
        "rewards": (n_steps,),
        "success": (n_steps,),
        "states": (n_steps + 1, size[0]) if len(size) == 1 else None,
    }
    for key, shape in expected.items():
        if shape is None or a[key].shape != shape:
            raise TrajectoryFileError(f"{path}: {key} has shape {a[key].shape}, expected {shape} for {n_steps} steps")  # fmt: skip
    if not np.array_equal(a["states"][0], a["start_state"]):
        raise TrajectoryFileError(f"{path}: states[0] differs from start_state")
    for key in ("start_state", "actions", "rewards", "states"):
        if not np.all(np.isfinite(a[key])):
            raise TrajectoryFileError(f"{path}: {key} holds NaN or inf")
    labels = (
        a["success"][~np.isnan(a["success"])] if a["success"].dtype.kind == "f" else a["success"]
    )
    if not np.all((labels == 0) | (labels == 1)):
        raise TrajectoryFileError(f"{path}: success must hold 0, 1 (or NaN where an env has no success), got {np.unique(labels)[:5]}")  # fmt: skip
