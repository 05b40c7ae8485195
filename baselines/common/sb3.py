"""Stable-Baselines3 on the shared checkpoint store: what to save, and how to restore it.

An SB3 checkpoint holds ``model.zip`` (``model.save``: weights, optimisers, ``num_timesteps``,
hyperparameters), ``replay_buffer.pkl`` (``model.save_replay_buffer``; for HER the episodes and
their bookkeeping) and, when the run normalises observations, ``vecnormalize.pkl``.
"""

from __future__ import annotations

import pickle
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from baselines.common.checkpoint import Checkpoint, CheckpointError, Writer

MODEL_FILE = "model.zip"
BUFFER_FILE = "replay_buffer.pkl"
VECNORM_FILE = "vecnormalize.pkl"


def sb3_writers(
    model: BaseAlgorithm, vecnormalize: VecNormalize | None = None, save_buffer: bool = True
) -> dict[str, Writer]:
    """The files of an SB3 checkpoint, as writers for :meth:`CheckpointStore.save`."""
    writers: dict[str, Writer] = {MODEL_FILE: model.save}
    if save_buffer and isinstance(model, OffPolicyAlgorithm) and model.replay_buffer is not None:
        writers[BUFFER_FILE] = model.save_replay_buffer
    if vecnormalize is not None:
        # VecNormalize.save wants a path; pickling it directly is what it does (venv excluded).
        writers[VECNORM_FILE] = lambda handle: pickle.dump(vecnormalize, handle)
    return writers


def load_vecnormalize(path: Any, venv: VecEnv, training: bool = True) -> VecNormalize:
    """Wrap ``venv`` with saved normalisation statistics."""
    try:
        vecnorm = VecNormalize.load(str(path), venv)
    except Exception as err:  # unpickling garbage can raise almost anything
        raise CheckpointError(
            f"{path}: damaged observation normaliser ({type(err).__name__}: {err}); restore it, or "
            "start a new run in another --out folder"
        ) from None
    vecnorm.training = training
    return vecnorm


def restore_model(
    algo_cls: type[OffPolicyAlgorithm],
    ckpt: Checkpoint,
    env: VecEnv,
    require_buffer: bool = True,
    **overrides: Any,
) -> OffPolicyAlgorithm:
    """Load model and replay buffer from ``ckpt`` onto ``env``, ready for ``learn`` to continue.

    ``HerReplayBuffer`` keeps a reference to the training env that is not pickled; passing ``env``
    here lets ``load_replay_buffer`` re-attach it. Checkpoints are taken between episodes, so
    truncating the "last trajectory" is a no-op safeguard. A checkpoint without its replay buffer
    is refused (``require_buffer``): resuming with an empty buffer would silently change the run.
    """
    model_path = ckpt.file(MODEL_FILE)
    if require_buffer and not ckpt.has(BUFFER_FILE):
        raise CheckpointError(
            f"{ckpt.path / BUFFER_FILE}: missing; resuming without the replay buffer would "
            "change the run (restore the file, or start a new run in another --out folder)"
        )
    try:
        model = algo_cls.load(str(model_path), env=env, **overrides)
    except Exception as err:  # zip, pickle and torch errors of every kind
        raise CheckpointError(
            f"{model_path}: damaged model file ({type(err).__name__}: {err}); restore it, or "
            "start a new run in another --out folder"
        ) from None
    if ckpt.has(BUFFER_FILE):
        try:
            model.load_replay_buffer(str(ckpt.file(BUFFER_FILE)), truncate_last_traj=True)
        except Exception as err:
            raise CheckpointError(
                f"{ckpt.file(BUFFER_FILE)}: damaged replay buffer ({type(err).__name__}: {err}); "
                "restore it, or start a new run in another --out folder"
            ) from None
    return model
