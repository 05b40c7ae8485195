"""Stable-Baselines3 callbacks shared by the baseline runners.

All three act in ``on_rollout_start``: after the previous rollout's episodes are stored *and* the
gradient steps that follow them are done (the runners collect whole episodes per rollout), so an
evaluation sees the freshly trained policy and a checkpoint never splits an episode of the HER
buffer nor drops the updates made on it. The state at the very end of ``learn`` is handled by the
runner calling ``evaluate()``/``save()`` itself.

* :class:`GoalEvalCallback`  periodic deterministic evaluation: final-step and any-step success;
* :class:`CheckpointCallback` periodic atomic checkpoint (model, replay buffer, normaliser, state);
* :class:`TqdmCallback`       a plain-tqdm progress bar (SB3's own needs ``rich``).

Pass them to ``learn`` in that order (``CallbackList``) so a checkpoint includes the evaluation
made at the same step.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecNormalize, sync_envs_normalization
from tqdm import tqdm

from baselines.common.checkpoint import CheckpointStore
from baselines.common.evaluation import evaluate_goal_policy
from baselines.common.runfolder import METRICS_FIELDS, append_csv_row
from baselines.common.sb3 import sb3_writers


def next_multiple(value: int, freq: int) -> int:
    """The smallest multiple of ``freq`` strictly greater than ``value``."""
    return (value // freq + 1) * freq


class WallClock:
    """Wall time of a run across sessions: ``offset`` s from earlier sessions plus this one."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset
        self.start = time.monotonic()

    def session(self) -> float:
        return time.monotonic() - self.start

    def total(self) -> float:
        return self.offset + self.session()


class GoalEvalCallback(BaseCallback):
    """Every ``eval_freq`` env steps, run ``n_episodes`` deterministic episodes on ``eval_env``.

    Records ``eval/success_final`` (``is_success`` at the last step), ``eval/success_any``
    (``is_success`` at any step), ``eval/mean_reward`` and ``eval/mean_ep_length`` in the SB3 logger
    (CSV and TensorBoard), and appends a row to ``metrics_path``. ``history`` is the list of
    earlier rows (restored from a checkpoint on resume); the schedule continues from its last row.
    """

    FIELDS = METRICS_FIELDS

    def __init__(
        self,
        eval_env: VecEnv,
        eval_freq: int,
        n_episodes: int,
        metrics_path: Path,
        clock: WallClock,
        seed: int | None = None,
        history: list[dict[str, Any]] | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        if eval_freq < 1 or n_episodes < 1:
            raise ValueError("eval_freq and n_episodes must be >= 1")
        self.eval_env = eval_env
        self.eval_freq = eval_freq
        self.n_episodes = n_episodes
        self.metrics_path = Path(metrics_path)
        self.clock = clock
        self.seed = seed
        self.history: list[dict[str, Any]] = list(history or [])
        last = int(self.history[-1]["timesteps"]) if self.history else 0
        self.next_eval = next_multiple(last, eval_freq)

    @property
    def last(self) -> dict[str, Any] | None:
        return self.history[-1] if self.history else None

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        self.num_timesteps = self.model.num_timesteps
        if self.num_timesteps >= self.next_eval:
            self.evaluate()

    def evaluate(self) -> dict[str, Any]:
        """Evaluate now, log and record the result, and schedule the next evaluation."""
        if isinstance(self.eval_env, VecNormalize):
            sync_envs_normalization(self.training_env, self.eval_env)
        result = evaluate_goal_policy(self.model, self.eval_env, self.n_episodes, seed=self.seed)
        train_success = getattr(self.model, "ep_success_buffer", None)
        row: dict[str, Any] = {
            "timesteps": int(self.num_timesteps),
            "success_final": result.success_final,
            "success_any": result.success_any,
            "mean_return": result.mean_return,
            "std_return": result.std_return,
            "mean_length": result.mean_length,
            "n_episodes": result.n_episodes,
            "train_success_rate": float(np.mean(train_success)) if train_success else float("nan"),
            "wall_time_s": round(self.clock.total(), 2),
        }
        assert tuple(row) == self.FIELDS
        self.history.append(row)
        append_csv_row(self.metrics_path, row)
        self.logger.record("eval/success_final", result.success_final)
        self.logger.record("eval/success_any", result.success_any)
        self.logger.record("eval/mean_reward", result.mean_return)
        self.logger.record("eval/mean_ep_length", result.mean_length)
        self.logger.record("time/wall_time_s", row["wall_time_s"])
        self.logger.dump(self.num_timesteps)
        if self.verbose:
            print(
                f"[eval] step {row['timesteps']}: success_final={result.success_final:.2f} "
                f"success_any={result.success_any:.2f} return={result.mean_return:.1f}",
                file=sys.stderr,
            )
        self.next_eval = next_multiple(self.num_timesteps, self.eval_freq)
        return row


class CheckpointCallback(BaseCallback):
    """Every ``save_freq`` env steps, write an atomic checkpoint into ``store``.

    ``state_fn`` returns the runner's JSON state (evaluation history, wall time, ...) to store
    alongside the model; ``extra_writers`` adds files of the runner's own (e.g. a scheduler).
    """

    def __init__(
        self,
        store: CheckpointStore,
        save_freq: int,
        state_fn: Callable[[], dict[str, Any]],
        vecnormalize: VecNormalize | None = None,
        verbose: int = 0,
        extra_writers: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(verbose)
        if save_freq < 1:
            raise ValueError("save_freq must be >= 1")
        self.store = store
        self.extra_writers = extra_writers
        self.save_freq = save_freq
        self.state_fn = state_fn
        self.vecnormalize = vecnormalize
        self.next_save: int | None = None
        self.last_saved: int | None = None

    def _on_training_start(self) -> None:
        self.next_save = next_multiple(self.num_timesteps, self.save_freq)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        self.num_timesteps = self.model.num_timesteps
        if self.next_save is not None and self.num_timesteps >= self.next_save:
            self.save()

    def save(self) -> Path:
        """Write a checkpoint now and schedule the next one."""
        writers = sb3_writers(self.model, self.vecnormalize)
        if self.extra_writers is not None:
            writers.update(self.extra_writers())
        path = self.store.save(self.model.num_timesteps, writers, self.state_fn())
        self.last_saved = self.num_timesteps
        self.next_save = next_multiple(self.num_timesteps, self.save_freq)
        if self.verbose:
            print(f"[checkpoint] step {self.num_timesteps}: {path}", file=sys.stderr)
        return path


class TqdmCallback(BaseCallback):
    """Progress bar over env steps up to ``total`` that shows the latest evaluation."""

    def __init__(
        self,
        total: int,
        eval_callback: GoalEvalCallback | None = None,
        postfix: Callable[[dict[str, Any]], dict[str, str]] | None = None,
    ) -> None:
        """``postfix(last_eval_row)`` gives the fields shown after each evaluation (default:
        both success rates)."""
        super().__init__()
        self.total = total
        self.eval_callback = eval_callback
        self.postfix = postfix
        self.pbar: Any = None
        self._shown_eval: int | None = None

    def _on_training_start(self) -> None:
        # In a log file (nohup) redraw rarely; on a terminal, smoothly.
        self.pbar = tqdm(
            total=self.total,
            initial=self.num_timesteps,
            unit="step",
            dynamic_ncols=True,
            mininterval=0.5 if sys.stderr.isatty() else 60.0,
        )

    def _on_step(self) -> bool:
        self.pbar.update(self.num_timesteps - self.pbar.n)
        return True

    def _on_rollout_start(self) -> None:
        last = self.eval_callback.last if self.eval_callback else None
        if last is not None and last["timesteps"] != self._shown_eval:
            self._shown_eval = last["timesteps"]
            if self.postfix is not None:
                self.pbar.set_postfix(self.postfix(last))
            else:
                self.pbar.set_postfix(
                    success_final=f"{last['success_final']:.2f}",
                    success_any=f"{last['success_any']:.2f}",
                )

    def _on_training_end(self) -> None:
        if self.pbar is not None:
            self.pbar.update(self.num_timesteps - self.pbar.n)
            self.pbar.close()


def finish_learning(
    model: Any, eval_cb: GoalEvalCallback, ckpt_cb: CheckpointCallback, *others: BaseCallback
) -> None:
    """Evaluate and checkpoint the state ``learn`` ended in (no rollout starts after its last
    training step, so the callbacks have not seen it), unless that step is already done."""
    for cb in (*others, eval_cb, ckpt_cb):
        cb.init_callback(model)
        cb.num_timesteps = model.num_timesteps
    evaluated = eval_cb.last is None or eval_cb.last["timesteps"] != model.num_timesteps
    if evaluated:
        eval_cb.evaluate()
    if evaluated or ckpt_cb.last_saved != model.num_timesteps:
        ckpt_cb.save()
