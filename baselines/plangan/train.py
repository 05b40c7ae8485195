"""The PlanGAN runner: the original's two-phase schedule in a run folder.

Read top to bottom (Charlesworth & Montana, NeurIPS 2020; ``train.py`` of the original code):

* **Phase 1.** ``init_rand_trajs`` random-action trajectories of ``traj_len`` steps; with
  ``filter_rand_trajs`` a trajectory is stored only if the object moved (and, for pick-and-place,
  did not fall off the table). Rejected ("wasted") trajectories still count as env steps. The
  scalers are fitted once, then ``init_train_its`` iterations (each: one step of every GAN and of
  every OSM on its own batch).
* **Phase 2**, until ``extra_trajs x traj_len`` more steps are stored: plan every action, add
  N(0, 0.2^2) noise; after the goal is first achieved, uniform random actions; stop once achieved
  and at least ``min_traj_len`` steps long. The same filter; after more than 2 consecutive
  rejections the next trajectory is random. Then ``floor(train_per_extra x len / traj_len)``
  iterations, except once, when the stored phase-2 steps first exceed ``big_trains_at x
  traj_len``: a full ``init_train_its`` block, continuing from the current weights.
* **Evaluation** whenever the stored steps grew by more than ``eval_every`` since the last one, and
  at the end: ``eval_episodes`` planned episodes without noise, recording any-step success
  (PlanGAN's metric) and final-step success (HER's); episodes run their full length so that both
  exist (the original stopped at the first success, which does not change any-step success).

Two counters: ``num_env_transitions`` (every env step, wasted ones included: the x-axis, the
``timesteps`` column) and ``curr_env_transitions`` (stored steps: the budget and the evaluation
schedule). Checkpoints (between trajectories and between chunks of training blocks) hold every
network, optimiser, scaler, the buffer and every random stream, so a killed run resumes and
continues bit-identically; env episodes are seeded from (seed, episode number).
"""

from __future__ import annotations

import dataclasses
import io
import math
import pickle
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.logger import Logger
from tqdm import tqdm

from baselines.common.callbacks import WallClock
from baselines.common.checkpoint import (
    CHECKPOINT_DIR,
    Checkpoint,
    CheckpointError,
    CheckpointStore,
    RunIdentity,
    resume_checkpoint,
)
from baselines.common.cli import config_to_dict
from baselines.common.envs import make_env
from baselines.common.logger import make_logger
from baselines.common.runfolder import (
    METRICS_FIELDS,
    METRICS_FILE,
    append_csv_row,
    run_folder_lock,
    starting_run,
    write_csv,
    write_json,
)
from baselines.common.runtime import check_device, configure_torch
from baselines.common.video import record_episode, write_video
from baselines.plangan.buffer import ReplayBuffer
from baselines.plangan.config import (
    RESUME_MAY_CHANGE,
    PlanGANConfig,
    PlanGANHyperparameters,
    hyperparameters_dict,
)
from baselines.plangan.envs import (
    BASE_IDS,
    OBJECT_POS,
    PlanGANFetchObservation,
    env_kind,
    trajectory_kept,
)
from baselines.plangan.model import PlanGAN

ALGORITHM = "PlanGAN"
MODEL_FILE = "model.pt"
BUFFER_FILE = "buffer.npz"
RNG_FILE = "rng.pkl"
EVAL_SEED = 1_000_000  # evaluation episodes are seeded (seed, EVAL_SEED + j): the same goals


def log(message: str, verbose: int = 1) -> None:
    if verbose:
        print(f"[plangan] {message}", file=sys.stderr, flush=True)


def episode_seed(seed: int, episode: int) -> int:
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0])


@dataclass
class ScheduleState:
    """The runner's position in the schedule (JSON, in every checkpoint's manifest)."""

    phase: str = "random"  # random -> extra -> done
    num_env_transitions: int = 0  # every env step, wasted trajectories included (the x-axis)
    curr_env_transitions: int = 0  # stored steps
    phase1_stored: int = 0
    train_remaining: int = 0  # iterations left in the current training block
    iterations: int = 0
    episodes: int = 0  # env resets so far (each seeds its episode)
    trajectories_kept: int = 0
    trajectories_wasted: int = 0
    consecutive_rejects: int = 0
    big_retrain_done: bool = False
    last_eval_stored: int = 0
    recent_success: list[bool] = field(default_factory=list)  # planned phase-2 trajectories
    eval_history: list[dict[str, Any]] = field(default_factory=list)
    wall_time_s: float = 0.0


@dataclass(frozen=True)
class EvaluationEpisode:
    """One evaluation episode: its return, success at the last and at any step, and whether its
    object started within the goal's tolerance (the floor a planner that does nothing scores)."""

    total_return: float
    success_final: bool
    success_any: bool
    started_solved: bool


@dataclass
class EpisodeRecord:
    """One collected trajectory, step by step: what the buffer stores if the filter keeps it."""

    obs: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    next_obs: list[np.ndarray] = field(default_factory=list)
    ag: list[np.ndarray] = field(default_factory=list)
    success: bool = False

    def add(self, obs: dict[str, np.ndarray], action: np.ndarray, next_obs: dict[str, np.ndarray]) -> None:  # fmt: skip
        self.obs.append(obs["observation"])
        self.actions.append(action)
        self.next_obs.append(next_obs["observation"])
        self.ag.append(obs["achieved_goal"])

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.array(self.obs),
            np.array(self.actions),
            np.array(self.next_obs),
            np.array(self.ag),
        )

    def achieved(self) -> np.ndarray:
        """Achieved goals of every obs and of the final next_obs."""
        return np.array([*self.ag, self.next_obs[-1][OBJECT_POS]])


class Runner:
    """One PlanGAN run: env, model, buffer, random streams, and the schedule's steps (collect,
    train, evaluate, checkpoint) on them. :func:`run` drives the schedule."""

    def __init__(
        self,
        config: PlanGANConfig,
        hp: PlanGANHyperparameters,
        device: str,
        run_dir: Path,
        store: CheckpointStore,
    ) -> None:
        self.config, self.hp = config, hp
        self.run_dir, self.store = run_dir, store
        self.kind = env_kind(config.env)
        self.env = self.make_env()
        space: Any = self.env.observation_space
        self.state_dim = int(space["observation"].shape[0])
        self.goal_dim = int(space["desired_goal"].shape[0])
        self.action_dim = int(self.env.action_space.shape[0])  # type: ignore[index]
        self.model = PlanGAN(hp, self.state_dim, self.action_dim, self.goal_dim, device, config.seed, OBJECT_POS)  # fmt: skip
        self.buffer = ReplayBuffer(hp.buffer_capacity, self.state_dim, self.action_dim, self.goal_dim)  # fmt: skip
        self.rng = np.random.default_rng(config.seed)
        self.eval_env = self.make_env()
        self.schedule = ScheduleState()
        self.last_losses: dict[str, float] = {}
        self.last_success: float = math.nan
        self.iterations_per_s = 0.0
        # set by start_session(), once the run folder is set up
        self.clock = WallClock()
        self.last_checkpoint = time.monotonic()
        self.logger: Logger | None = None
        self.bar: tqdm[Any] | None = None

    def make_env(self, **kwargs: Any) -> PlanGANFetchObservation:
        wrap = lambda env: PlanGANFetchObservation(env, self.kind)  # noqa: E731
        env = make_env(BASE_IDS[self.kind], [wrap], **kwargs)
        assert isinstance(env, PlanGANFetchObservation)
        return env

    # -- checkpoints ------------------------------------------------------------------------
    def writers(self) -> dict[str, Callable[[Any], object]]:
        def model_writer(handle: Any) -> None:
            buf = io.BytesIO()
            torch.save({"model": self.model.state_dict(), "torch_rng": torch.get_rng_state()}, buf)
            handle.write(buf.getvalue())

        def buffer_writer(handle: Any) -> None:
            buf = io.BytesIO()
            np.savez(buf, **self.buffer.state_dict())
            handle.write(buf.getvalue())

        def rng_writer(handle: Any) -> None:
            handle.write(pickle.dumps({"numpy": self.rng.bit_generator.state}))

        return {MODEL_FILE: model_writer, BUFFER_FILE: buffer_writer, RNG_FILE: rng_writer}

    def restore(self, ckpt: Checkpoint) -> None:
        """Networks, optimisers, scalers, buffer, random streams and schedule as ``ckpt`` holds
        them; anything damaged raises :class:`CheckpointError` naming the checkpoint."""
        try:
            saved = torch.load(ckpt.file(MODEL_FILE), map_location=self.model.device, weights_only=False)  # fmt: skip
            self.model.load_state_dict(saved["model"])
            torch.set_rng_state(saved["torch_rng"].cpu())
            with np.load(ckpt.file(BUFFER_FILE)) as data:
                self.buffer.load_state_dict({k: data[k] for k in data.files})
            self.rng.bit_generator.state = pickle.loads(ckpt.file(RNG_FILE).read_bytes())["numpy"]
            self.schedule = ScheduleState(**ckpt.state["progress"])
        except CheckpointError:
            raise
        except Exception as err:
            raise CheckpointError(f"{ckpt.path}: damaged ({type(err).__name__}: {err}); restore it, or start a new run in another --out folder") from None  # fmt: skip
        if self.schedule.eval_history:
            self.last_success = self.schedule.eval_history[-1]["success_any"]

    def checkpoint(self, force: bool = False) -> None:
        """Write a checkpoint: always when ``force``, else once ``checkpoint_every_s`` passed."""
        if not force and time.monotonic() - self.last_checkpoint < self.hp.checkpoint_every_s:
            return
        s = self.schedule
        s.wall_time_s = round(self.clock.total(), 3)
        self.store.save(s.num_env_transitions, self.writers(), {"progress": dataclasses.asdict(s)})
        self.last_checkpoint = time.monotonic()

    # -- the session ------------------------------------------------------------------------
    def start_session(self) -> None:
        """The logger, the wall clock (continuing the checkpoint's) and, with ``--progress``, the
        progress bar of this session."""
        s, hp = self.schedule, self.hp
        self.logger = make_logger(self.run_dir, start_timesteps=s.num_env_transitions)
        self.clock = WallClock(offset=s.wall_time_s)
        self.last_checkpoint = time.monotonic()
        if self.config.progress:
            expected = hp.traj_len * (hp.init_rand_trajs + hp.extra_trajs)
            self.bar = tqdm(total=expected, initial=s.num_env_transitions, unit="step", dynamic_ncols=True,
                            file=sys.stderr, desc="PlanGAN")  # fmt: skip

    def show_progress(self) -> None:
        if self.bar is None:
            return
        s, rate = self.schedule, self.iterations_per_s
        self.bar.n = min(s.num_env_transitions, self.bar.total)
        self.bar.set_postfix(phase=s.phase, stored=s.curr_env_transitions, success=f"{self.last_success:.2f}",
                             its=f"{rate:.1f}/s", train_left=s.train_remaining,
                             train_eta=f"{s.train_remaining / rate / 60:.0f}min" if rate > 0 else "-",
                             refresh=True)  # fmt: skip

    def end_session(self) -> None:
        self.show_progress()
        if self.bar is not None:
            self.bar.close()
        self.env.close()
        self.eval_env.close()

    # -- the schedule -----------------------------------------------------------------------
    def collect_random(self) -> None:
        """Phase 1: the random trajectories, the scalers fitted on them, the first training block."""
        s, hp = self.schedule, self.hp
        for _ in range(hp.init_rand_trajs):
            self.store_trajectory(self.random_trajectory())
        s.phase1_stored = s.curr_env_transitions
        if self.buffer.size == 0:
            raise RuntimeError(
                f"none of the {hp.init_rand_trajs} random trajectories moved the object, so "
                "there is nothing to fit the scalers on; use more init_rand_trajs"
            )
        self.model.fit_scalers(self.buffer, self.rng)
        s.train_remaining = hp.init_train_its
        s.phase = "extra"

    def extra_budget_spent(self) -> bool:
        """Whether phase 2 has stored its ``extra_trajs x traj_len`` steps."""
        s, hp = self.schedule, self.hp
        return s.curr_env_transitions - s.phase1_stored >= hp.extra_trajs * hp.traj_len

    def collect_planned(self) -> None:
        """Phase 2: one planned trajectory (random after > 2 consecutive rejections), and the
        training it earns if kept: the one big retrain, or ``train_per_extra`` per ``traj_len``."""
        s, hp = self.schedule, self.hp
        planned = s.consecutive_rejects <= 2
        trajectory = self.planned_trajectory() if planned else self.random_trajectory()
        if planned:
            s.recent_success = [*s.recent_success[-19:], trajectory.success]
        if not self.store_trajectory(trajectory):
            return
        stored_extra = s.curr_env_transitions - s.phase1_stored
        if hp.big_trains_at is not None and not s.big_retrain_done and stored_extra > hp.big_trains_at * hp.traj_len:  # fmt: skip
            s.big_retrain_done = True
            s.train_remaining = hp.init_train_its
        else:
            s.train_remaining = hp.train_per_extra * len(trajectory.obs) // hp.traj_len

    def train(self) -> None:
        """The next chunk (``train_chunk`` iterations) of the current training block, logged."""
        s = self.schedule
        n = min(self.hp.train_chunk, s.train_remaining)
        start = time.monotonic()
        for _ in range(n):
            self.last_losses = self.model.train_iteration(self.buffer, self.rng)
        self.iterations_per_s = n / max(time.monotonic() - start, 1e-9)
        s.train_remaining -= n
        s.iterations += n
        logger = self.session_logger()
        for key, value in self.last_losses.items():
            logger.record(f"train/{key}", value)
        logger.record("train/iterations_per_s", self.iterations_per_s)
        logger.record("time/iterations", s.iterations)
        logger.dump(s.num_env_transitions)

    def evaluation_due(self) -> bool:
        """Whether the stored steps grew by more than ``eval_every`` since the last evaluation."""
        s = self.schedule
        return s.curr_env_transitions - s.last_eval_stored > self.hp.eval_every

    def evaluated_last(self) -> bool:
        """Whether the last evaluation was at the current step."""
        s = self.schedule
        return bool(s.eval_history) and s.eval_history[-1]["timesteps"] == s.num_env_transitions

    def evaluate(self) -> None:
        """Evaluate now: a row in ``metrics.csv``, the history and the logger."""
        s = self.schedule
        row = self.evaluation_row()
        row["wall_time_s"] = round(self.clock.total(), 2)
        s.eval_history.append(row)
        s.last_eval_stored = s.curr_env_transitions
        self.last_success = row["success_any"]
        append_csv_row(self.run_dir / METRICS_FILE, {k: row[k] for k in METRICS_FIELDS})
        logger = self.session_logger()
        for key in ("success_any", "success_final", "mean_return"):
            logger.record(f"eval/{key}", row[key])
        logger.record("time/iterations", s.iterations)
        logger.dump(s.num_env_transitions)
        log(f"eval at {s.num_env_transitions} env steps: any-step success {row['success_any']:.3f}, final-step {row['success_final']:.3f}", self.config.verbose >= 2)  # fmt: skip

    def session_logger(self) -> Logger:
        if self.logger is None:
            raise RuntimeError("Runner: start_session() comes before training and evaluating")
        return self.logger

    # -- data collection --------------------------------------------------------------------
    def reset(self, env: PlanGANFetchObservation, episode: int) -> dict[str, np.ndarray]:
        obs: dict[str, np.ndarray] = env.reset(seed=episode_seed(self.config.seed, episode))[0]
        return obs

    def random_trajectory(self) -> EpisodeRecord:
        trajectory = EpisodeRecord()
        obs = self.reset(self.env, self.schedule.episodes)
        self.schedule.episodes += 1
        for _ in range(self.hp.traj_len):
            action = self.rng.uniform(-1.0, 1.0, self.action_dim)
            next_obs, _, _, _, info = self.env.step(action)
            trajectory.add(obs, action, next_obs)
            trajectory.success |= bool(info.get("is_success", False))
            obs = next_obs
        return trajectory

    def planned_trajectory(self) -> EpisodeRecord:
        hp, trajectory = self.hp, EpisodeRecord()
        obs = self.reset(self.env, self.schedule.episodes)
        self.schedule.episodes += 1
        for t in range(hp.traj_len):
            if trajectory.success:
                action = self.rng.uniform(-1.0, 1.0, self.action_dim)
            else:
                if hp.canonicalise:
                    obs = self.env.canonicalise()
                action = self.model.plan(obs["observation"], obs["desired_goal"]).action
                action = np.clip(action + self.rng.normal(0.0, hp.exploration_noise, self.action_dim), -1.0, 1.0)  # fmt: skip
            next_obs, _, _, _, info = self.env.step(action)
            trajectory.add(obs, action, next_obs)
            trajectory.success |= bool(info.get("is_success", False))
            obs = next_obs
            if trajectory.success and t + 1 >= hp.min_traj_len:
                break
        return trajectory

    def store_trajectory(self, trajectory: EpisodeRecord) -> bool:
        """Count the steps; store the trajectory if it passes the filter."""
        s = self.schedule
        s.num_env_transitions += len(trajectory.obs)
        if self.hp.filter_rand_trajs and not trajectory_kept(self.kind, trajectory.achieved()):
            s.trajectories_wasted += 1
            s.consecutive_rejects += 1
            return False
        self.buffer.add_path(*trajectory.arrays())
        s.curr_env_transitions += len(trajectory.obs)
        s.trajectories_kept += 1
        s.consecutive_rejects = 0
        return True

    # -- evaluation -------------------------------------------------------------------------
    def plan_action(self, env: PlanGANFetchObservation, obs: dict[str, np.ndarray]) -> np.ndarray:
        if self.hp.canonicalise:
            obs = env.canonicalise()
        return self.model.plan(obs["observation"], obs["desired_goal"]).action

    def evaluation_episode(self, j: int) -> EvaluationEpisode:
        """Evaluation episode ``j`` (goal and start seeded by (seed, EVAL_SEED + j)), planned
        without noise for its full ``traj_len`` steps."""
        eval_env = self.eval_env
        obs = self.reset(eval_env, EVAL_SEED + j)
        started_solved = bool(eval_env.unwrapped.compute_reward(obs["achieved_goal"], obs["desired_goal"], {}) == 0.0)  # type: ignore[attr-defined]  # fmt: skip
        total, success_any, success = 0.0, False, False
        for _ in range(self.hp.traj_len):
            obs, reward, _, _, info = eval_env.step(self.plan_action(eval_env, obs))
            total += float(reward)
            success = bool(info.get("is_success", False))
            success_any |= success
        return EvaluationEpisode(total, success, success_any, started_solved)

    def evaluation_row(self) -> dict[str, Any]:
        """``eval_episodes`` planned episodes without noise, as a ``metrics.csv`` row (its wall
        time left at 0 for :meth:`evaluate`)."""
        hp = self.hp
        episodes = [self.evaluation_episode(j) for j in range(hp.eval_episodes)]
        returns = [e.total_return for e in episodes]
        lengths = [hp.traj_len] * len(episodes)
        final = [e.success_final for e in episodes]
        anys = [e.success_any for e in episodes]
        s = self.schedule
        recent = s.recent_success[-20:]
        return {
            "timesteps": s.num_env_transitions,
            "success_final": float(np.mean(final)),
            "success_any": float(np.mean(anys)),
            "mean_return": float(np.mean(returns)),
            "std_return": float(np.std(returns)),
            "mean_length": float(np.mean(lengths)),
            "n_episodes": hp.eval_episodes,
            "train_success_rate": float(np.mean(recent)) if recent else math.nan,
            "wall_time_s": 0.0,
        }

    def record_video(self) -> Path | None:
        try:
            env = self.make_env(render_mode="rgb_array")
        except Exception as err:  # rendering is optional; never lose a finished run over it
            warnings.warn(f"no video: cannot create a rendering env ({err})", stacklevel=2)
            return None
        try:
            frames, summary = record_episode(
                env, lambda obs: self.plan_action(env, obs),
                seed=episode_seed(self.config.seed, EVAL_SEED), max_steps=self.hp.video_steps,
            )  # fmt: skip
            path = write_video(
                frames, self.run_dir / "videos" / "eval_episode", fps=12.5
            )  # MP4 or GIF
            write_json(self.run_dir / "videos" / "eval_episode.json", summary)
            return Path(path)
        except Exception as err:
            warnings.warn(f"no video: rendering failed ({err})", stacklevel=2)
            return None
        finally:
            env.close()

    def summary(self, video: Path | None) -> dict[str, Any]:
        """What ``summary.json`` holds about the finished run."""
        s, config = self.schedule, self.config
        return {
            "env": config.env,
            "algorithm": ALGORITHM,
            "preset": config.preset,
            "seed": config.seed,
            "num_env_transitions": s.num_env_transitions,
            "stored_transitions": s.curr_env_transitions,
            "wasted_trajectories": s.trajectories_wasted,
            "iterations": s.iterations,
            "final_success_any": s.eval_history[-1]["success_any"],
            "final_success_final": s.eval_history[-1]["success_final"],
            "wall_time_s": round(self.clock.total(), 1),
            "video": str(video.relative_to(self.run_dir)) if video else None,
        }


def run(config: PlanGANConfig) -> dict[str, Any]:
    """Train (or resume) one PlanGAN run; returns the summary.

    The run folder is locked for the whole run: a second process on it stops at once.
    """
    with run_folder_lock(config.out):
        return _train(config)


def _train(config: PlanGANConfig) -> dict[str, Any]:
    """The run itself (see :func:`run`): set up or resume, then the schedule, step by step."""
    check_device(config.device)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if config.device == "auto" else config.device  # fmt: skip
    configure_torch(config.threads)
    hp = config.hyperparameters()
    run_config = {
        **config_to_dict(config),
        "runner": "baselines.plangan",
        "algorithm": ALGORITHM,
        "hyperparameters": hyperparameters_dict(hp),
        "runtime": hyperparameters_dict(hp, runtime=True),
    }
    store = CheckpointStore(config.out / CHECKPOINT_DIR, RunIdentity.of(run_config, config.seed, ignore=RESUME_MAY_CHANGE))  # fmt: skip
    with starting_run(config.out, run_config, config.resume, RESUME_MAY_CHANGE) as run_dir:
        ckpt = resume_checkpoint(store, run_dir, config.resume)
        runner = Runner(config, hp, device, run_dir, store)
        if ckpt is not None:
            runner.restore(ckpt)
            log(f"resuming {run_dir} from {ckpt.path.name} ({ckpt.step} env steps)", config.verbose)  # fmt: skip
            write_csv(run_dir / METRICS_FILE, runner.schedule.eval_history, fieldnames=METRICS_FIELDS)  # fmt: skip
    runner.start_session()
    schedule = runner.schedule
    log(f"{ALGORITHM} on {config.env} ({config.preset}), device {device}, out={run_dir}", config.verbose)  # fmt: skip
    while schedule.phase != "done":
        runner.show_progress()
        if schedule.train_remaining > 0:
            runner.train()
            runner.checkpoint()
        elif schedule.phase == "random":
            runner.collect_random()
            runner.checkpoint(force=True)
        elif runner.evaluation_due():
            runner.evaluate()
            runner.checkpoint(force=True)
        elif runner.extra_budget_spent():
            schedule.phase = "done"
        else:
            runner.collect_planned()
            runner.checkpoint()
    if not runner.evaluated_last():
        runner.evaluate()
    runner.checkpoint(force=True)
    runner.end_session()
    video = runner.record_video() if config.video else None
    summary = runner.summary(video)
    write_json(run_dir / "summary.json", summary)
    log(f"done: {schedule.num_env_transitions} env steps, any-step success {summary['final_success_any']:.3f}", config.verbose)  # fmt: skip
    return summary
