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
class Progress:
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


@dataclass
class Path_:
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
    """One PlanGAN run: env, model, buffer, random streams and the schedule."""

    def __init__(self, config: PlanGANConfig, hp: PlanGANHyperparameters, device: str) -> None:
        self.config, self.hp = config, hp
        self.kind = env_kind(config.env)
        self.env = self.make_env()
        space: Any = self.env.observation_space
        self.state_dim = int(space["observation"].shape[0])
        self.goal_dim = int(space["desired_goal"].shape[0])
        self.action_dim = int(self.env.action_space.shape[0])  # type: ignore[index]
        self.model = PlanGAN(hp, self.state_dim, self.action_dim, self.goal_dim, device, config.seed, OBJECT_POS)  # fmt: skip
        self.buffer = ReplayBuffer(hp.buffer_capacity, self.state_dim, self.action_dim, self.goal_dim)  # fmt: skip
        self.rng = np.random.default_rng(config.seed)
        self.progress = Progress()
        self.last_losses: dict[str, float] = {}
        self.last_success: float = math.nan

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
        try:
            saved = torch.load(ckpt.file(MODEL_FILE), map_location=self.model.device, weights_only=False)  # fmt: skip
            self.model.load_state_dict(saved["model"])
            torch.set_rng_state(saved["torch_rng"].cpu())
            with np.load(ckpt.file(BUFFER_FILE)) as data:
                self.buffer.load_state_dict({k: data[k] for k in data.files})
            self.rng.bit_generator.state = pickle.loads(ckpt.file(RNG_FILE).read_bytes())["numpy"]
        except CheckpointError:
            raise
        except Exception as err:
            raise CheckpointError(f"{ckpt.path}: damaged ({type(err).__name__}: {err}); restore it, or start a new run in another --out folder") from None  # fmt: skip
        fields = {f.name for f in dataclasses.fields(Progress)}
        self.progress = Progress(**{k: v for k, v in ckpt.state["progress"].items() if k in fields})  # fmt: skip

    # -- data collection --------------------------------------------------------------------
    def reset(self, env: PlanGANFetchObservation, episode: int) -> dict[str, np.ndarray]:
        obs: dict[str, np.ndarray] = env.reset(seed=episode_seed(self.config.seed, episode))[0]
        return obs

    def random_trajectory(self) -> Path_:
        path = Path_()
        obs = self.reset(self.env, self.progress.episodes)
        self.progress.episodes += 1
        for _ in range(self.hp.traj_len):
            action = self.rng.uniform(-1.0, 1.0, self.action_dim)
            next_obs, _, _, _, info = self.env.step(action)
            path.add(obs, action, next_obs)
            path.success |= bool(info.get("is_success", False))
            obs = next_obs
        return path

    def planned_trajectory(self) -> Path_:
        hp, path = self.hp, Path_()
        obs = self.reset(self.env, self.progress.episodes)
        self.progress.episodes += 1
        for t in range(hp.traj_len):
            if path.success:
                action = self.rng.uniform(-1.0, 1.0, self.action_dim)
            else:
                if hp.canonicalise:
                    obs = self.env.canonicalise()
                action = self.model.plan(obs["observation"], obs["desired_goal"]).action
                action = np.clip(action + self.rng.normal(0.0, hp.exploration_noise, self.action_dim), -1.0, 1.0)  # fmt: skip
            next_obs, _, _, _, info = self.env.step(action)
            path.add(obs, action, next_obs)
            path.success |= bool(info.get("is_success", False))
            obs = next_obs
            if path.success and t + 1 >= hp.min_traj_len:
                break
        return path

    def store(self, path: Path_) -> bool:
        """Count the steps; store the path if it passes the filter."""
        p = self.progress
        p.num_env_transitions += len(path.obs)
        if self.hp.filter_rand_trajs and not trajectory_kept(self.kind, path.achieved()):
            p.trajectories_wasted += 1
            p.consecutive_rejects += 1
            return False
        self.buffer.add_path(*path.arrays())
        p.curr_env_transitions += len(path.obs)
        p.trajectories_kept += 1
        p.consecutive_rejects = 0
        return True

    # -- evaluation -------------------------------------------------------------------------
    def plan_action(self, env: PlanGANFetchObservation, obs: dict[str, np.ndarray]) -> np.ndarray:
        if self.hp.canonicalise:
            obs = env.canonicalise()
        return self.model.plan(obs["observation"], obs["desired_goal"]).action

    def evaluate(self, eval_env: PlanGANFetchObservation) -> dict[str, Any]:
        hp = self.hp
        returns, lengths, final, anys = [], [], [], []
        for j in range(hp.eval_episodes):
            obs = self.reset(eval_env, EVAL_SEED + j)
            total, success_any, success = 0.0, False, False
            for _ in range(hp.traj_len):
                obs, reward, _, _, info = eval_env.step(self.plan_action(eval_env, obs))
                total += float(reward)
                success = bool(info.get("is_success", False))
                success_any |= success
            returns.append(total)
            lengths.append(hp.traj_len)
            final.append(success)
            anys.append(success_any)
        p = self.progress
        recent = p.recent_success[-20:]
        return {
            "timesteps": p.num_env_transitions,
            "success_final": float(np.mean(final)),
            "success_any": float(np.mean(anys)),
            "mean_return": float(np.mean(returns)),
            "std_return": float(np.std(returns)),
            "mean_length": float(np.mean(lengths)),
            "n_episodes": hp.eval_episodes,
            "train_success_rate": float(np.mean(recent)) if recent else math.nan,
            "wall_time_s": 0.0,  # filled in by the caller
        }

    def record_video(self, run_dir: Path) -> Path | None:
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
            path = write_video(frames, run_dir / "videos" / "eval_episode", fps=12.5)  # MP4 or GIF
            write_json(run_dir / "videos" / "eval_episode.json", summary)
            return Path(path)
        except Exception as err:
            warnings.warn(f"no video: rendering failed ({err})", stacklevel=2)
            return None
        finally:
            env.close()


def run(config: PlanGANConfig) -> dict[str, Any]:
    """Train (or resume) one PlanGAN run; returns the summary.

    The run folder is locked for the whole run: a second process on it stops at once.
    """
    with run_folder_lock(config.out):
        return _train(config)


def _train(config: PlanGANConfig) -> dict[str, Any]:
    """The run itself (see :func:`run`)."""
    verbose = config.verbose
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
        runner = Runner(config, hp, device)
        eval_env = runner.make_env()
        if ckpt is not None:
            runner.restore(ckpt)
            log(f"resuming {run_dir} from {ckpt.path.name} ({ckpt.step} env steps)", verbose)
            write_csv(run_dir / METRICS_FILE, runner.progress.eval_history, fieldnames=METRICS_FIELDS)  # fmt: skip
    from baselines.common.logger import make_logger

    p = runner.progress
    logger = make_logger(run_dir, start_timesteps=p.num_env_transitions)
    session_start = time.monotonic()
    wall_offset = p.wall_time_s
    last_ckpt = time.monotonic()

    def wall() -> float:
        return wall_offset + time.monotonic() - session_start

    def checkpoint(force: bool = False) -> None:
        nonlocal last_ckpt
        if not force and time.monotonic() - last_ckpt < hp.checkpoint_every_s:
            return
        p.wall_time_s = round(wall(), 3)
        store.save(p.num_env_transitions, runner.writers(), {"progress": dataclasses.asdict(p)})
        last_ckpt = time.monotonic()

    expected = hp.traj_len * (hp.init_rand_trajs + hp.extra_trajs)
    bar = None
    if config.progress:
        from tqdm import tqdm

        bar = tqdm(total=expected, initial=p.num_env_transitions, unit="step", dynamic_ncols=True,
                   file=sys.stderr, desc="PlanGAN")  # fmt: skip
    its_rate = 0.0

    def show() -> None:
        if bar is not None:
            bar.n = min(p.num_env_transitions, bar.total)
            bar.set_postfix(phase=p.phase, stored=p.curr_env_transitions, success=f"{runner.last_success:.2f}",
                            its=f"{its_rate:.1f}/s", train_left=p.train_remaining,
                            train_eta=f"{p.train_remaining / its_rate / 60:.0f}min" if its_rate > 0 else "-",
                            refresh=True)  # fmt: skip

    def evaluate() -> None:
        row = runner.evaluate(eval_env)
        row["wall_time_s"] = round(wall(), 2)
        p.eval_history.append(row)
        p.last_eval_stored = p.curr_env_transitions
        runner.last_success = row["success_any"]
        append_csv_row(run_dir / METRICS_FILE, {k: row[k] for k in METRICS_FIELDS})
        for key in ("success_any", "success_final", "mean_return"):
            logger.record(f"eval/{key}", row[key])
        logger.record("time/iterations", p.iterations)
        logger.dump(p.num_env_transitions)
        log(f"eval at {p.num_env_transitions} env steps: any-step success {row['success_any']:.3f}, final-step {row['success_final']:.3f}", verbose >= 2)  # fmt: skip

    if p.eval_history:
        runner.last_success = p.eval_history[-1]["success_any"]
    extra_budget = hp.extra_trajs * hp.traj_len
    log(f"{ALGORITHM} on {config.env} ({config.preset}), device {device}, out={run_dir}", verbose)
    while p.phase != "done":
        show()
        if p.train_remaining > 0:
            n = min(hp.train_chunk, p.train_remaining)
            start = time.monotonic()
            for _ in range(n):
                runner.last_losses = runner.model.train_iteration(runner.buffer, runner.rng)
            its_rate = n / max(time.monotonic() - start, 1e-9)
            p.train_remaining -= n
            p.iterations += n
            for key, value in runner.last_losses.items():
                logger.record(f"train/{key}", value)
            logger.record("train/iterations_per_s", its_rate)
            logger.record("time/iterations", p.iterations)
            logger.dump(p.num_env_transitions)
            checkpoint()
            continue
        if p.phase == "random":
            for _ in range(hp.init_rand_trajs):
                runner.store(runner.random_trajectory())
            p.phase1_stored = p.curr_env_transitions
            if runner.buffer.size == 0:
                raise RuntimeError(
                    f"none of the {hp.init_rand_trajs} random trajectories moved the object, so "
                    "there is nothing to fit the scalers on; use more init_rand_trajs"
                )
            runner.model.fit_scalers(runner.buffer, runner.rng)
            p.train_remaining = hp.init_train_its
            p.phase = "extra"
            checkpoint(force=True)
            continue
        if p.curr_env_transitions - p.last_eval_stored > hp.eval_every:
            evaluate()
            checkpoint(force=True)
        stored_extra = p.curr_env_transitions - p.phase1_stored
        if stored_extra >= extra_budget:
            p.phase = "done"
            break
        planned = p.consecutive_rejects <= 2
        path = runner.planned_trajectory() if planned else runner.random_trajectory()
        if planned:
            p.recent_success = [*p.recent_success[-19:], path.success]
        kept = runner.store(path)
        stored_extra = p.curr_env_transitions - p.phase1_stored
        if kept and hp.big_trains_at is not None and not p.big_retrain_done and stored_extra > hp.big_trains_at * hp.traj_len:  # fmt: skip
            p.big_retrain_done = True
            p.train_remaining = hp.init_train_its
        elif kept:
            p.train_remaining = hp.train_per_extra * len(path.obs) // hp.traj_len
        checkpoint()
    if not p.eval_history or p.eval_history[-1]["timesteps"] != p.num_env_transitions:
        evaluate()
    checkpoint(force=True)
    show()
    if bar is not None:
        bar.close()
    video = runner.record_video(run_dir) if config.video else None
    summary = {
        "env": config.env,
        "algorithm": ALGORITHM,
        "preset": config.preset,
        "seed": config.seed,
        "num_env_transitions": p.num_env_transitions,
        "stored_transitions": p.curr_env_transitions,
        "wasted_trajectories": p.trajectories_wasted,
        "iterations": p.iterations,
        "final_success_any": p.eval_history[-1]["success_any"],
        "final_success_final": p.eval_history[-1]["success_final"],
        "wall_time_s": round(wall(), 1),
        "video": str(video.relative_to(run_dir)) if video else None,
    }
    write_json(run_dir / "summary.json", summary)
    log(f"done: {p.num_env_transitions} env steps, any-step success {summary['final_success_any']:.3f}", verbose)  # fmt: skip
    runner.env.close()
    eval_env.close()
    return summary
