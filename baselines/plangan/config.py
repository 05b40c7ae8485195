"""PlanGAN settings: the command line, and the presets as data.

The ``paper`` preset holds the numbers of the original experiment files
(``experiments/FetchPush/experiment_args.json`` and
``experiments/FetchPickAndPlace/experiment_args.json`` of ``henrycharlesworth/PlanGAN``, which
its README calls the exact hyperparameters used) with the planner settings fixed in its
``train.py`` (K = 25 candidates x C = 100 copies, horizon 50, alpha 5, tol 0.05).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from baselines.common.cli import MAX_SEED, MAX_THREADS, option, parse_config

PROG = "python -m baselines.plangan"
PresetName = Literal["paper", "reduced", "short", "smoke"]


@dataclass(frozen=True)
class PlanGANHyperparameters:
    """Everything the algorithm needs apart from where and which run (FetchPush paper values)."""

    tau: int = 5  # segment length (GAN steps per training sample)
    traj_len: int = 50
    init_rand_trajs: int = 250
    filter_rand_trajs: bool = True
    extra_trajs: int = 2000  # stored-step budget of phase 2: extra_trajs x traj_len
    min_traj_len: int = 20
    exploration_noise: float = 0.2
    buffer_capacity: int = 1_000_000
    hidden: tuple[int, ...] = (512, 512)  # G, D and OSM
    reg_gan_with_osm: bool = True
    gan_model_l2: float = 30.0  # lambda_OSM
    latent_dim: int = 64
    l2_gen: float = 1e-3
    l2_disc: float = 1e-3
    l2_osm: float = 1e-4
    lr_gan: float = 1e-4
    betas_gan: tuple[float, float] = (0.5, 0.999)
    lr_osm: float = 1e-3
    betas_osm: tuple[float, float] = (0.9, 0.999)
    init_train_its: int = 250_000  # init_gan_train_its = init_osm_train_its
    train_per_extra: int = 250  # iterations per traj_len stored steps of a new trajectory
    gan_batch_size: int = 128
    osm_batch_size: int = 256
    big_trains_at: int | None = 1250  # trajectories (x traj_len steps) beyond phase 1
    filter_train_batch: bool = True
    filter_distance: float = 0.01
    random_future_goals: bool = True
    num_gans: int = 3
    num_osms: int = 3
    use_all_osms_for_each_gan: bool = True
    sample_noise: float = 1e-4
    scaler_noise_state: float = 0.05
    scaler_noise_diff: float = 0.01
    scaler_noise_goal: float = 0.05
    plan_num_init_acs: int = 25  # K
    plan_num_copies: int = 100  # C
    plan_horizon: int = 50  # T = traj_len
    plan_alpha: float = 5.0
    plan_average_ac: bool = False
    planner_osm_frac: float = 0.0
    plan_tol: float = 0.05
    canonicalise: bool = True  # cube-symmetry canonicalisation (Fetch push / pick-and-place)
    eval_every: int = 25_000  # stored steps between evaluations
    eval_episodes: int = 200
    checkpoint_every_s: float = 300.0  # wall time between checkpoints (at block boundaries)
    train_chunk: int = 100  # iterations between checkpoint (and log) opportunities in a block
    video_steps: int = 50

    def __post_init__(self) -> None:
        positive = ("tau", "traj_len", "init_rand_trajs", "extra_trajs", "buffer_capacity",
                    "latent_dim", "gan_batch_size", "osm_batch_size", "num_gans", "num_osms",
                    "plan_num_init_acs", "plan_num_copies", "plan_horizon", "eval_every",
                    "eval_episodes", "train_chunk", "video_steps")  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.tau >= self.traj_len:
            raise ValueError(f"tau ({self.tau}) must be below traj_len ({self.traj_len})")
        if not 0.0 <= self.planner_osm_frac <= 1.0:
            raise ValueError(f"planner_osm_frac must lie in [0, 1], got {self.planner_osm_frac}")
        if self.min_traj_len > self.traj_len or self.init_train_its < 0 or self.train_per_extra < 0:  # fmt: skip
            raise ValueError("min_traj_len must be <= traj_len; training iterations must be >= 0")
        budget = self.traj_len * (self.init_rand_trajs + self.extra_trajs)
        if self.buffer_capacity < budget:
            raise ValueError(f"buffer_capacity {self.buffer_capacity} is below the run's {budget} stored steps")  # fmt: skip

    @property
    def total_stored_budget(self) -> int:
        return self.traj_len * (self.init_rand_trajs + self.extra_trajs)


# FetchPickAndPlace's experiment file differs from FetchPush's in these keys.
_PNP = {"extra_trajs": 3000, "init_train_its": 100_000, "plan_average_ac": True,
        "planner_osm_frac": 0.5}  # fmt: skip

# The paper's networks and budget at a fraction of the compute, for a CPU: 1 GAN and 1 OSM,
# 30 k initial iterations, 50 per trajectory, 50 evaluation episodes, K = 5 x C = 20.
_REDUCED = {"num_gans": 1, "num_osms": 1, "init_train_its": 30_000, "train_per_extra": 50,
            "eval_episodes": 50, "plan_num_init_acs": 5, "plan_num_copies": 20}  # fmt: skip

# The reduced preset with a third of its initial training, half its training per trajectory and
# a quarter of phase 2 (25 k stored steps instead of 100 k), evaluated every 7.5 k stored steps:
# the budget of the in-session evidence runs. Most planned trajectories of an untrained model never move the object and are discarded,
# so its wall time is set by the wasted trajectories, not by the stored budget.
_SHORT = {**_REDUCED, "init_train_its": 10_000, "extra_trajs": 500, "train_per_extra": 25,
          "big_trains_at": 250, "eval_every": 7_500}  # fmt: skip

# Seconds, for tests: tiny networks, a handful of trajectories, short plans.
_SMOKE = {"traj_len": 10, "tau": 3, "init_rand_trajs": 4, "filter_rand_trajs": False,
          "extra_trajs": 2, "min_traj_len": 5, "buffer_capacity": 1000, "hidden": (16, 16),
          "latent_dim": 4, "init_train_its": 6, "train_per_extra": 5, "gan_batch_size": 8,
          "osm_batch_size": 8, "big_trains_at": 1, "num_gans": 2, "num_osms": 2,
          "plan_num_init_acs": 3, "plan_num_copies": 2, "plan_horizon": 10, "eval_every": 10,
          "eval_episodes": 1, "checkpoint_every_s": 0.0, "train_chunk": 4, "video_steps": 3,
          "filter_train_batch": False}  # fmt: skip

ENV_KINDS = ("push", "pick_and_place")
# What each preset changes from the paper's values (after FetchPickAndPlace's own keys).
PRESETS: dict[str, dict[str, Any]] = {"paper": {}, "reduced": _REDUCED, "short": _SHORT, "smoke": _SMOKE}  # fmt: skip


def preset_values(preset: str, kind: str) -> dict[str, Any]:
    """The preset's hyperparameters for an env kind (``push`` or ``pick_and_place``)."""
    if kind not in ENV_KINDS:
        raise ValueError(f"env kind must be one of {list(ENV_KINDS)}, got {kind!r}")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {list(PRESETS)}, got {preset!r}")
    values: dict[str, Any] = dict(_PNP) if kind == "pick_and_place" else {}
    values.update(PRESETS[preset])
    return values


# Settings a resumed run may change; the rest must match the run's config.json.
# ``runtime`` holds the hyperparameters that only decide when checkpoints and logs happen.
RESUME_MAY_CHANGE = ("resume", "out", "threads", "device", "video", "progress", "verbose", "runtime")  # fmt: skip
RUNTIME_FIELDS = ("checkpoint_every_s", "train_chunk", "video_steps")


@dataclass(frozen=True)
class PlanGANConfig:
    """One ``python -m baselines.plangan`` run."""

    env: str = option(help="FetchPush-v4 or FetchPickAndPlace-v4 (PlanGAN's observation layouts)", required=True)  # fmt: skip
    preset: PresetName = option(help="settings (paper: the original experiment files)", required=True)  # fmt: skip
    out: Path = option(help="run folder", required=True)
    seed: int = option(0, help="random seed", minimum=0, maximum=MAX_SEED)
    resume: bool = option(False, help="continue the run in --out")
    threads: int = option(1, help="torch threads", minimum=1, maximum=MAX_THREADS)
    device: str = option("cpu", help="torch device (cpu, cuda, cuda:N)")
    video: bool = option(True, help="a video of one evaluation episode at the end")
    progress: bool = option(True, help="progress bar")
    verbose: Literal[0, 1, 2] = option(1, help="2: tracebacks")

    def hyperparameters(self) -> PlanGANHyperparameters:
        # imported here: the CLI parses its options before rendering is set up, and the envs
        # module registers Gymnasium envs when imported
        from baselines.plangan.envs import env_kind

        return PlanGANHyperparameters(**preset_values(self.preset, env_kind(self.env)))


def parse_args(argv: Sequence[str] | None = None) -> PlanGANConfig:
    """Parse the command line (one-line errors, exit status 2)."""
    return parse_config(
        PlanGANConfig,
        argv,
        PROG,
        description="PlanGAN: model-based planning with GANs (NeurIPS 2020).",
    )


def hyperparameters_dict(hp: PlanGANHyperparameters, runtime: bool = False) -> dict[str, Any]:
    """The algorithm's settings (``runtime=False``) or the checkpoint/log timing ones (``True``)."""
    data = dataclasses.asdict(hp)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items() if (k in RUNTIME_FIELDS) == runtime}  # fmt: skip
