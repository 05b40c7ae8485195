"""The decision-file format of the FSM heuristic data, and its reader.

A data folder holds ``config.json`` and ``versions.json`` (run-folder convention) and one file per
seeded run, ``run_NNNN.npz`` (``format_version`` 1), each written atomically once the run is
complete. Arrays, for T recorded steps of N agents:

- ``prev_keys`` (T, N) int64: each agent's visual state at the previous step, packed (bit k =
  sensor k); at t = 0 it equals the current state, as in the Gymnasium observation;
- ``keys`` (T, N) int64: the current visual state (depth 0, against the others' actual positions);
- ``action`` (T, N) int8: the FSM choice (0..4 = right, left, slow, keep, fast, tie rule applied);
- ``tied`` (T, N) uint8: bit a set iff move a attains the maximum count (the tied-best set);
- ``counts`` (T, N, 5) int16: the distinct future visual states of each first move (n_alpha);
- ``moved`` (T, N) int8: the move taken (= ``action`` unless the run was flown by a heuristic,
  ``--weights``, the DAgger step; the run's ``config.json`` then names the weights);
- ``meta``: a 0-d unicode array holding JSON: ``format_version``, ``seed``, ``steps``,
  ``n_agents``, ``n_sensors``, ``config`` (the :class:`swarm_gym.SwarmConfig` as a dict).

Row t holds the decision taken at the state before step t + 1.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
RUN_FILE = re.compile(r"^run_(\d{4,})\.npz$")
ARRAYS = ("prev_keys", "keys", "action", "tied", "counts", "moved", "meta")


def run_path(folder: Path, index: int) -> Path:
    """Path of the ``index``-th run file of a data folder."""
    return folder / f"run_{index:04d}.npz"


def load_run(path: Path) -> dict[str, Any]:
    """Read one run file; ValueError naming the file and the problem if it is damaged."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path} is damaged ({err}); delete it and record it again") from None
    missing = [k for k in ARRAYS if k not in arrays]
    if missing:
        raise ValueError(f"{path} is damaged (missing arrays {missing}); record it again")
    out: dict[str, Any] = {k: arrays[k] for k in ARRAYS if k != "meta"}
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is damaged (meta is not JSON: {err})") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: expected format_version {FORMAT_VERSION}, got {meta!r:.80}")
    t, n = int(meta["steps"]), int(meta["n_agents"])
    shapes = {"prev_keys": (t, n), "keys": (t, n), "action": (t, n), "tied": (t, n),
              "counts": (t, n, 5), "moved": (t, n)}  # fmt: skip
    for key, shape in shapes.items():
        if out[key].shape != shape:
            raise ValueError(f"{path}: {key} has shape {out[key].shape}, expected {shape}")
    out["meta"] = meta
    return out


def run_indices(folder: Path) -> list[int]:
    """Indices of the run files present in ``folder``, sorted."""
    found = [RUN_FILE.match(p.name) for p in folder.iterdir()] if folder.is_dir() else []
    return sorted(int(m.group(1)) for m in found if m)


@dataclass(frozen=True)
class Samples:
    """Decisions of some runs, flattened over steps and agents.

    ``x`` (S, 2 n_s) uint8 = [previous bits, current bits]; ``action`` (S,) int64; ``tied`` (S, 5)
    bool; ``counts`` (S, 5) int64; ``run`` (S,) int64 the run index of each sample.
    """

    x: np.ndarray
    action: np.ndarray
    tied: np.ndarray
    counts: np.ndarray
    run: np.ndarray


def unpack(keys: np.ndarray, n_sensors: int) -> np.ndarray:
    """(...,) int64 keys -> (..., n_sensors) uint8 bits."""
    return ((keys[..., None] >> np.arange(n_sensors, dtype=np.int64)) & 1).astype(np.uint8)


def load_samples(folder: Path, skip_steps: int = 0) -> Samples:
    """All decisions of a data folder (rows with t < ``skip_steps`` left out)."""
    indices = run_indices(Path(folder))
    if not indices:
        raise ValueError(f"{folder} holds no run_NNNN.npz files; record some first")
    xs, acts, ties, counts, runs = [], [], [], [], []
    n_s: int | None = None
    for i in indices:
        run = load_run(run_path(Path(folder), i))
        n_s_run = int(run["meta"]["n_sensors"])
        if n_s is not None and n_s_run != n_s:
            raise ValueError(f"{folder}: runs with different n_sensors ({n_s} and {n_s_run})")
        n_s = n_s_run
        sl = slice(skip_steps, None)
        prev = unpack(run["prev_keys"][sl].ravel(), n_s)
        cur = unpack(run["keys"][sl].ravel(), n_s)
        xs.append(np.concatenate([prev, cur], axis=1))
        acts.append(run["action"][sl].ravel().astype(np.int64))
        tied = run["tied"][sl].ravel()
        ties.append(((tied[:, None] >> np.arange(5)) & 1).astype(bool))
        counts.append(run["counts"][sl].reshape(-1, 5).astype(np.int64))
        runs.append(np.full(acts[-1].shape[0], i, dtype=np.int64))
    return Samples(np.concatenate(xs), np.concatenate(acts), np.concatenate(ties),
                   np.concatenate(counts), np.concatenate(runs))  # fmt: skip
