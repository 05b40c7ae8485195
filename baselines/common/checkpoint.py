"""Crash-safe checkpoints of off-policy Stable-Baselines3 runs, and resuming from them.

A checkpoint is a directory ``RUN_DIR/checkpoints/step_<num_timesteps>/`` holding

* ``model.zip``          ``model.save`` (weights, optimisers, ``num_timesteps``, hyperparameters)
* ``replay_buffer.pkl``  ``model.save_replay_buffer`` (for HER: the episodes and their bookkeeping)
* ``vecnormalize.pkl``   observation-normalisation statistics, when the run uses ``VecNormalize``
* ``state.json``         the runner's own state: timesteps, evaluation history, wall time, ...

Every file is written atomically; only when all are in place is ``checkpoints/latest.json``
replaced to point at the new directory, and only then are older directories deleted. A process
killed at any moment therefore leaves ``latest.json`` naming a complete checkpoint, and a resumed
run loses at most the work done since that checkpoint.
"""

from __future__ import annotations

import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from baselines.common.runfolder import atomic_write, read_json, write_json

CHECKPOINT_DIR = "checkpoints"
LATEST_FILE = "latest.json"
MODEL_FILE = "model.zip"
BUFFER_FILE = "replay_buffer.pkl"
VECNORM_FILE = "vecnormalize.pkl"
STATE_FILE = "state.json"


@dataclass
class Checkpoint:
    """A complete checkpoint found on disk."""

    path: Path
    state: dict[str, Any]

    @property
    def num_timesteps(self) -> int:
        return int(self.state["num_timesteps"])

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def buffer_path(self) -> Path:
        return self.path / BUFFER_FILE

    @property
    def vecnormalize_path(self) -> Path | None:
        path = self.path / VECNORM_FILE
        return path if path.exists() else None


def save_checkpoint(
    run_dir: str | Path,
    model: BaseAlgorithm,
    state: dict[str, Any],
    vecnormalize: VecNormalize | None = None,
    save_buffer: bool = True,
) -> Path:
    """Write a checkpoint for ``model`` at its current ``num_timesteps`` and make it the latest."""
    root = Path(run_dir) / CHECKPOINT_DIR
    name = f"step_{model.num_timesteps:010d}"
    ckpt = root / name
    ckpt.mkdir(parents=True, exist_ok=True)
    atomic_write(ckpt / MODEL_FILE, model.save)
    if save_buffer and isinstance(model, OffPolicyAlgorithm) and model.replay_buffer is not None:
        atomic_write(ckpt / BUFFER_FILE, model.save_replay_buffer)
    if vecnormalize is not None:
        # VecNormalize.save wants a path; pickling it directly is what it does (venv excluded).
        atomic_write(ckpt / VECNORM_FILE, lambda handle: pickle.dump(vecnormalize, handle))
    write_json(ckpt / STATE_FILE, {**state, "num_timesteps": int(model.num_timesteps)})
    write_json(root / LATEST_FILE, {"checkpoint": name, "num_timesteps": int(model.num_timesteps)})
    for old in root.glob("step_*"):
        if old.name != name and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return ckpt


def latest_checkpoint(run_dir: str | Path) -> Checkpoint | None:
    """The checkpoint ``latest.json`` points to, or ``None`` if the run never wrote one."""
    root = Path(run_dir) / CHECKPOINT_DIR
    latest = root / LATEST_FILE
    if not latest.exists():
        return None
    ckpt = root / read_json(latest)["checkpoint"]
    missing = [f for f in (MODEL_FILE, STATE_FILE) if not (ckpt / f).exists()]
    if missing:
        raise FileNotFoundError(f"checkpoint {ckpt} is incomplete: {', '.join(missing)} missing")
    return Checkpoint(path=ckpt, state=read_json(ckpt / STATE_FILE))


def load_vecnormalize(path: Path, venv: VecEnv, training: bool = True) -> VecNormalize:
    """Wrap ``venv`` with saved normalisation statistics."""
    vecnorm = VecNormalize.load(str(path), venv)
    vecnorm.training = training
    return vecnorm


def restore_model(
    algo_cls: type[OffPolicyAlgorithm],
    ckpt: Checkpoint,
    env: VecEnv,
    **overrides: Any,
) -> OffPolicyAlgorithm:
    """Load model and replay buffer from ``ckpt`` onto ``env``, ready for ``learn`` to continue.

    ``HerReplayBuffer`` keeps a reference to the training env that is not pickled; passing ``env``
    here lets ``load_replay_buffer`` re-attach it (``set_env``). Checkpoints are taken between
    episodes, so truncating the "last trajectory" is a no-op safeguard.
    """
    model = algo_cls.load(str(ckpt.model_path), env=env, **overrides)
    if ckpt.buffer_path.exists():
        model.load_replay_buffer(str(ckpt.buffer_path), truncate_last_traj=True)
    return model
