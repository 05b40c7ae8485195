"""One Stable-Baselines3 run in a run folder: the resume skeleton the HER and TD3+demos runners share.

A runner keeps what is its own (its envs, how its model is built, its extra checkpoint files, its
summary); :class:`SB3Run` does what every SB3 run does the same way, in the order it happens::

    run = SB3Run(out, config, seed=..., resume=..., resume_may_change=..., timesteps=...,
                 checkpoint_freq=..., verbose=..., log=log)
    with run.setting_up() as ckpt:  # run folder, resume checkpoint, evaluation history, clock
        ...                         # envs; the model restored from ckpt, or a new one
        run.attach(model)           # metrics.csv rolled back to the checkpoint, the SB3 logger
    run.evaluate_with(eval_env, freq=..., episodes=..., seed=...)
    run.checkpoint_with(vecnormalize=...)
    run.learn(log_interval=...)     # then the final evaluation and checkpoint
    run.write_summary({...})

The set-up runs inside :func:`~baselines.common.runfolder.starting_run`: if any of it fails (a
damaged checkpoint, an env that cannot be made), nothing of this start is left in the folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from baselines.common.callbacks import (
    CheckpointCallback,
    GoalEvalCallback,
    TqdmCallback,
    WallClock,
    finish_learning,
)
from baselines.common.checkpoint import (
    CHECKPOINT_DIR,
    Checkpoint,
    CheckpointStore,
    RunIdentity,
    Writer,
    resume_checkpoint,
)
from baselines.common.logger import make_logger
from baselines.common.runfolder import METRICS_FILE, starting_run, write_csv, write_json

SUMMARY_FILE = "summary.json"

# A runner's log function: (message, verbosity); prints when verbosity > 0.
Log = Callable[[str, int], None]


class SB3Run:
    """The run folder, checkpoint store, evaluation history and wall clock of one SB3 run.

    ``config`` is what ``config.json`` holds; its keys outside ``resume_may_change`` (and the seed)
    are the run's identity, which every checkpoint must carry. ``timesteps`` is the total the run
    trains to; ``checkpoint_freq`` (env steps) schedules the checkpoints.
    """

    def __init__(
        self,
        out: str | Path,
        config: Mapping[str, Any],
        *,
        seed: int,
        resume: bool,
        resume_may_change: Sequence[str],
        timesteps: int,
        checkpoint_freq: int,
        verbose: int,
        log: Log,
    ) -> None:
        self.run_dir = Path(out)
        self.config = dict(config)
        self.resume = resume
        self.resume_may_change = tuple(resume_may_change)
        self.timesteps = timesteps
        self.checkpoint_freq = checkpoint_freq
        self.verbose = verbose
        self.log = log
        identity = RunIdentity.of(self.config, seed, ignore=self.resume_may_change)
        self.store = CheckpointStore(self.run_dir / CHECKPOINT_DIR, identity)
        # set by setting_up(): the checkpoint resumed from, and the state saved with it
        self.checkpoint: Checkpoint | None = None
        self.state: dict[str, Any] = {}
        self.start = 0  # env steps done before this session
        self.clock = WallClock()
        self._model: OffPolicyAlgorithm | None = None
        self._evaluations: GoalEvalCallback | None = None
        self._checkpoints: CheckpointCallback | None = None

    # -- set-up ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def setting_up(self) -> Iterator[Checkpoint | None]:
        """Prepare (or, on resume, check) the run folder and yield the checkpoint to resume from
        (``None`` for a new run). The body builds the envs and the model and ends with
        :meth:`attach`; if it raises, the folder is left as this start found it."""
        with starting_run(self.run_dir, self.config, self.resume, self.resume_may_change) as run_dir:  # fmt: skip
            self.run_dir = run_dir
            ckpt = resume_checkpoint(self.store, run_dir, self.resume, self.checkpoint_freq)
            self.start = ckpt.step if ckpt is not None else 0
            if self.start > self.timesteps:
                raise ValueError(
                    f"--timesteps {self.timesteps} is below the checkpoint's {self.start} steps; "
                    "pass a larger total to extend the run"
                )
            self.checkpoint = ckpt
            self.state = dict(ckpt.state) if ckpt is not None else {}
            self.clock = WallClock(offset=float(self.state.get("wall_time_s", 0.0)))
            if ckpt is not None:
                self.log(f"resuming {run_dir} from checkpoint {ckpt.path.name} ({self.start} steps)", self.verbose)  # fmt: skip
            elif self.resume:
                self.log(f"--resume: {run_dir} has no checkpoint yet, starting from step 0", self.verbose)  # fmt: skip
            yield ckpt
            if self._model is None:
                raise RuntimeError("SB3Run.setting_up: the set-up ended without attach(model)")

    @property
    def history(self) -> list[dict[str, Any]]:
        """The evaluations so far: the checkpoint's, then this session's."""
        if self._evaluations is not None:
            return self._evaluations.history
        return list(self.state.get("eval_history", []))

    def attach(self, model: OffPolicyAlgorithm) -> None:
        """Make ``model`` (restored or new) the run's, once the set-up has succeeded.

        On resume, ``metrics.csv`` is rewritten to the checkpoint's evaluations: the process that
        stopped may have evaluated after its last checkpoint, and those steps are redone. (It is
        rewritten only now, so a set-up that fails on a damaged file changes nothing.)
        """
        if self.resume:
            write_csv(self.run_dir / METRICS_FILE, self.history, fieldnames=GoalEvalCallback.FIELDS)
        model.set_logger(make_logger(self.run_dir, start_timesteps=self.start, stdout=self.verbose >= 2))  # fmt: skip
        self._model = model

    @property
    def model(self) -> OffPolicyAlgorithm:
        if self._model is None:
            raise RuntimeError("SB3Run.model: no model yet; call attach(model) in setting_up()")
        return self._model

    # -- callbacks ---------------------------------------------------------------------------
    def evaluate_with(
        self, eval_env: VecEnv, *, freq: int, episodes: int, seed: int
    ) -> GoalEvalCallback:
        """Evaluate every ``freq`` env steps (``episodes`` deterministic episodes of ``eval_env``
        seeded from ``seed``), continuing the checkpoint's schedule; rows go to metrics.csv."""
        self._evaluations = GoalEvalCallback(
            eval_env, eval_freq=freq, n_episodes=episodes, metrics_path=self.run_dir / METRICS_FILE,
            clock=self.clock, seed=seed, history=self.history, verbose=self.verbose,
        )  # fmt: skip
        return self._evaluations

    def checkpoint_with(
        self,
        *,
        vecnormalize: VecNormalize | None = None,
        extra_state: Callable[[], dict[str, Any]] | None = None,
        extra_files: Callable[[], dict[str, Writer]] | None = None,
    ) -> CheckpointCallback:
        """Checkpoint every ``checkpoint_freq`` env steps: the SB3 files (model, replay buffer,
        ``vecnormalize``), the runner's ``extra_files`` and, in the manifest, the evaluation
        history, the wall time and the runner's ``extra_state``."""

        def state() -> dict[str, Any]:
            saved = {"eval_history": self.history, "wall_time_s": round(self.clock.total(), 2)}
            return {**saved, **extra_state()} if extra_state is not None else saved

        self._checkpoints = CheckpointCallback(
            self.store, self.checkpoint_freq, state, vecnormalize=vecnormalize,
            verbose=self.verbose, extra_writers=extra_files,
        )  # fmt: skip
        if self.checkpoint is not None:  # a resume that adds no step writes no new checkpoint
            self._checkpoints.last_saved = self.start
        return self._checkpoints

    # -- learning ----------------------------------------------------------------------------
    def learn(
        self,
        *,
        log_interval: int | None,
        progress: bool = False,
        postfix: Callable[[dict[str, Any]], dict[str, str]] | None = None,
        others: Sequence[BaseCallback] = (),
        evaluate_first: bool = False,
    ) -> None:
        """Train up to ``timesteps``, then evaluate and checkpoint the state ``learn`` ended in.

        ``others`` run before the evaluation and checkpoint callbacks; ``progress`` shows a bar
        with ``postfix(last evaluation)``; ``evaluate_first`` evaluates the untrained policy of a
        new run (the curve's first point); ``log_interval`` is SB3's (episodes between logs).
        """
        model, evaluations, checkpoints = self.model, self._evaluations, self._checkpoints
        if evaluations is None or checkpoints is None:
            raise RuntimeError("SB3Run.learn: call evaluate_with() and checkpoint_with() first")
        callbacks: list[BaseCallback] = [*others, evaluations, checkpoints]
        if progress:
            callbacks.append(TqdmCallback(self.timesteps, evaluations, postfix=postfix))
        if evaluate_first and self.start == 0 and not evaluations.history:
            evaluations.init_callback(model)
            evaluations.evaluate()
        if self.timesteps > self.start:
            model.learn(
                total_timesteps=self.timesteps - self.start,
                callback=CallbackList(callbacks),
                reset_num_timesteps=False,
                log_interval=log_interval,  # type: ignore[arg-type]  # SB3 takes None: never
            )
        # No rollout starts after learn()'s last training cycle, so the callbacks have not seen
        # its final state. (learn() collects whole rollouts: it may pass the target by < one.)
        finish_learning(model, evaluations, checkpoints, *others)

    # -- the end -----------------------------------------------------------------------------
    def steps_per_s(self) -> float:
        """This session's env steps per second of wall time."""
        steps = self.model.num_timesteps - self.start
        return round(steps / max(self.clock.session(), 1e-9), 1)

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        write_json(self.run_dir / SUMMARY_FILE, dict(summary))
