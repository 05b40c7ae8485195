"""Command line and hyperparameters of the HER runner.

Three presets (``--preset``; every option overrides its preset). The default ``single`` follows
the single-worker reading of OpenAI baselines' DDPG+HER configuration (Plappert et al. 2018,
"Multi-Goal Reinforcement Learning"), the setting both papers compare against (docs/results/her.md):

================================  ==========================================================
HER                               ``future`` strategy, 4 sampled goals (relabel ratio 0.8)
actor and critic                  3 x 256 ReLU
learning rates                    1e-3 (actor and critic, Adam)
batch, buffer                     256, 1e6 transitions (capped at --timesteps: never fills)
gamma                             1 - 1/T  (T = the env's TimeLimit; 0.98 Fetch, 0.9867 ours)
schedule                          2 envs; every T steps (one episode per env) 40 updates
target networks                   baselines' polyak 0.95 once per 40-update cycle, as the per-
                                  update tau = 1 - 0.95^(1/target updates per cycle); SAC uses
                                  tau 0.05 every 40 updates, i.e. exactly once per cycle
exploration (DDPG, TD3)           Gaussian noise, sigma 0.2
observation normalisation         running mean/std per key, clipped to +-5 (VecNormalize)
evaluation                        10 deterministic episodes, final-step and any-step success
================================  ==========================================================

``single`` leaves out random_eps, the action L2 penalty and the observation clip. ``plappert``
reproduces baselines' schedule in one process: 38 envs (19 workers x 2 rollouts) per cycle, 40
updates of one batch of 19 x 256 (standing in for the 19 workers' averaged gradients), random_eps
0.3, the action L2 penalty 1.0 and the observation clip 200 (:mod:`baselines.her.plappert`).
Return clipping is not reproduced. ``tqc-zoo`` is sb3-contrib's TQC with rl-baselines3-zoo's
FetchPush settings (see :data:`PRESETS`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from baselines.common.cli import (
    MAX_ENVS,
    MAX_SEED,
    MAX_THREADS,
    config_to_dict,
    option,
    parse_config,
)

ALGOS = ("ddpg", "td3", "sac", "tqc")
PresetName = Literal["single", "plappert", "tqc-zoo"]


@dataclass(frozen=True)
class HerHyperparameters:
    """One HER run's learner settings; the defaults are the ``single`` preset."""

    algo: str = "ddpg"
    n_envs: int = 2
    n_sampled_goal: int = 4
    goal_strategy: str = "future"
    net_arch: tuple[int, ...] = (256, 256, 256)
    lr: float = 1e-3
    batch_size: int = 256
    gamma: float | None = None  # None: 1 - 1/T
    polyak: float = 0.95
    train_episodes: int = 1
    train_steps: int | None = None  # None: train_episodes * T
    gradient_steps: int = 40
    action_noise: float = 0.2
    random_eps: float = 0.0
    action_l2: float = 0.0
    obs_clip: float | None = None
    normalize: bool = True

    def __post_init__(self) -> None:
        if self.algo not in ("ddpg", "td3") and (self.random_eps > 0 or self.action_l2 > 0):
            raise ValueError(f"--random-eps and --action-l2 need --algo ddpg or td3, got {self.algo}")  # fmt: skip


# The presets as data. single: the single-worker reading of baselines' DDPG+HER (the module
# docstring). plappert: Plappert et al. (2018)'s schedule in one process: 19 workers x 2 rollouts
# = 38 envs, 40 updates per cycle of one batch of 19 x 256 (the 19 averaged worker gradients),
# random_eps 0.3, the action L2 penalty 1.0, observations clipped to 200 before the normaliser
# (clip 5), polyak 0.95, gamma 1 - 1/T (0.98 on Fetch). tqc-zoo: rl-baselines3-zoo's TQC+HER
# settings for FetchPush (batch 2048, gamma 0.95, lr 1e-3, tau 0.05, 3 x 512, one update per step).
PRESETS: dict[str, dict[str, Any]] = {
    "single": {},
    "plappert": {
        "n_envs": 38,
        "batch_size": 19 * 256,
        "random_eps": 0.3,
        "action_l2": 1.0,
        "obs_clip": 200.0,
    },
    "tqc-zoo": {
        "algo": "tqc",
        "n_envs": 1,
        "batch_size": 2048,
        "gamma": 0.95,
        "lr": 1e-3,
        "polyak": 0.95,
        "net_arch": (512, 512, 512),
        "train_steps": 1,
        "gradient_steps": 1,
        "action_noise": 0.0,
        "normalize": False,
    },
}
_HP_FIELDS = tuple(f.name for f in dataclasses.fields(HerHyperparameters))

# Arguments that may change when a run is resumed; everything else must match config.json.
RESUME_MAY_CHANGE = (
    "timesteps",
    "resume",
    "out",
    "eval_freq",
    "checkpoint_freq",
    "progress",
    "video",
    "threads",
    "verbose",
)

# The segment settings of --demos (HER+demos); without --demos they must keep their defaults.
DEMO_SETTINGS = ("p_demo", "p_reset", "decay", "segment_steps", "beta")

_RUN = "run"
_HP = "hyperparameters (defaults: the papers' DDPG+HER)"
_DEMOS = "demo-state segments (TD3+demos' scheduler, Charlesworth & Montana 2021; with --demos)"


@dataclass(frozen=True)
class HerConfig:
    """Everything one HER run needs; also the command line of ``python -m baselines.her``."""

    env: str = option(help="goal env ID, e.g. EggHandOverSparse-v0", required=True, group=_RUN)
    timesteps: int = option(help="total env steps", required=True, minimum=1, group=_RUN)
    algo: Literal["ddpg", "td3", "sac", "tqc"] | None = option(None, help="off-policy learner (None: the preset's)", group=_RUN)  # fmt: skip
    out: Path | None = option(None, help="run folder; None: runs/her/ENV_ALGO_sSEED", group=_RUN)
    seed: int = option(0, help="random seed", minimum=0, maximum=MAX_SEED, group=_RUN)
    n_envs: int | None = option(None, help="envs stepped in lockstep (None: the preset's)", minimum=1, maximum=MAX_ENVS, group=_RUN)  # fmt: skip
    resume: bool = option(False, help="continue the run in --out", group=_RUN)
    threads: int = option(1, help="torch threads", minimum=1, maximum=MAX_THREADS, group=_RUN)
    device: str = option("cpu", help="torch device (cpu, cuda, auto)", group=_RUN)
    eval_freq: int = option(5000, help="env steps between evaluations", minimum=1, group=_RUN)
    eval_episodes: int = option(10, help="episodes per evaluation", minimum=1, group=_RUN)
    checkpoint_freq: int = option(
        25000, help="env steps between checkpoints (model + replay buffer)", minimum=1, group=_RUN
    )
    video: bool = option(True, help="video of a final evaluation episode", group=_RUN)
    progress: bool = option(True, help="progress bar", group=_RUN)
    verbose: Literal[0, 1, 2] = option(1, help="2: SB3 logs and tracebacks", group=_RUN)

    preset: PresetName = option("plappert", help="hyperparameter set (see PRESETS; plappert: Plappert et al. 2018's schedule, which learns FetchPush); the options below override it", group=_HP)  # fmt: skip
    n_sampled_goal: int | None = option(None, help="HER k: relabelled goals per transition (None: the preset's, 4)", minimum=1, group=_HP)  # fmt: skip
    goal_strategy: Literal["future", "final", "episode"] | None = option(
        None, help="HER goal selection (None: the preset's, future)", group=_HP
    )
    net_arch: tuple[int, ...] | None = option(None, help="hidden sizes, e.g. 256,256 (None: the preset's)", group=_HP)  # fmt: skip
    lr: float | None = option(None, help="learning rate of actor and critic (None: the preset's)", positive=True, group=_HP)  # fmt: skip
    batch_size: int | None = option(None, help="minibatch size (None: the preset's)", minimum=1, group=_HP)  # fmt: skip
    buffer_size: int | None = option(None, help="None: min(1e6, --timesteps)", minimum=1, group=_HP)  # fmt: skip
    gamma: float | None = option(None, help="discount; None: the preset's, else 1 - 1/T", positive=True, maximum=1.0, group=_HP)  # fmt: skip
    polyak: float | None = option(
        None, help="target decay per training cycle (None: the preset's, 0.95)", positive=True, maximum=1.0, group=_HP
    )  # fmt: skip
    train_episodes: int | None = option(None, help="train after this many episodes per env (None: the preset's)", minimum=1, group=_HP)  # fmt: skip
    train_steps: int | None = option(None, help="train every this many steps per env instead (None: the preset's)", minimum=1, group=_HP)  # fmt: skip
    gradient_steps: int | None = option(None, help="updates per training cycle (None: the preset's)", minimum=1, group=_HP)  # fmt: skip
    learning_starts: int | None = option(
        None, help="None: T * n_envs (one episode per env)", minimum=0, group=_HP
    )
    action_noise: float | None = option(None, help="Gaussian sigma (DDPG/TD3; None: the preset's)", minimum=0.0, group=_HP)  # fmt: skip
    random_eps: float | None = option(None, help="chance of a uniform random action per step (DDPG/TD3; None: the preset's)", minimum=0.0, maximum=1.0, group=_HP)  # fmt: skip
    action_l2: float | None = option(None, help="actor loss + action_l2 * mean(pi^2) (DDPG/TD3; None: the preset's)", minimum=0.0, group=_HP)  # fmt: skip
    obs_clip: float | None = option(None, help="clip raw observations to +-obs_clip before normalising (None: the preset's)", positive=True, group=_HP)  # fmt: skip
    normalize: bool | None = option(
        None, help="running observation normalisation (VecNormalize, clip 5; None: the preset's)", group=_HP
    )  # fmt: skip

    demos: tuple[str, ...] = option(
        (), help="folders of planner trajectories of this env (dense or sparse): HER+demos",
        metavar="DIR", group=_DEMOS,
    )  # fmt: skip
    p_demo: float = option(0.7, help="chance a segment starts from a demo state", minimum=0.0, maximum=1.0, group=_DEMOS)  # fmt: skip
    p_reset: float = option(0.2, help="chance a segment starts from a fresh reset", minimum=0.0, maximum=1.0, group=_DEMOS)  # fmt: skip
    decay: float = option(0.999996, help="p_demo and p_reset decay per segment", positive=True, maximum=1.0, group=_DEMOS)  # fmt: skip
    segment_steps: int = option(15, help="steps per segment", minimum=1, group=_DEMOS)
    beta: float = option(1.0, help="action coupling a = beta mu + (1 - beta) a_prev (1: none)", positive=True, maximum=1.0, group=_DEMOS)  # fmt: skip

    def __post_init__(self) -> None:
        if self.p_demo + self.p_reset > 1:
            raise ValueError(f"--p-demo + --p-reset must be <= 1, got {self.p_demo} + {self.p_reset}")  # fmt: skip
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        changed = [name for name in DEMO_SETTINGS if getattr(self, name) != defaults[name]]
        if not self.demos and changed:
            flags = ", ".join("--" + name.replace("_", "-") for name in changed)
            raise ValueError(f"{flags}: only used with --demos DIR (demo-state segments)")
        hp = self.hyperparameters()  # an impossible combination fails here, naming the options
        if self.out is None:  # the default run folder names env, algorithm and seed
            name = f"{self.env.replace(':', '_')}_{hp.algo}_s{self.seed}"
            object.__setattr__(self, "out", Path("runs/her") / name)

    def hyperparameters(self) -> HerHyperparameters:
        """The preset with this run's options applied."""
        values = dict(PRESETS[self.preset])
        given = {k: getattr(self, k) for k in _HP_FIELDS if getattr(self, k) is not None}
        if given.get("algo", values.get("algo", "ddpg")) not in ("ddpg", "td3"):
            # random_eps and the action L2 penalty are DDPG/TD3 exploration and actor terms: a
            # preset's values do not carry over to SAC or TQC (given ones are refused below)
            values.pop("random_eps", None)
            values.pop("action_l2", None)
        values.update(given)
        return HerHyperparameters(**values)

    def resolved_dict(self) -> dict[str, Any]:
        """The run's ``config.json``: every option, those left to the preset filled in from it,
        so a run records (and ``--resume`` compares) the values it really used."""
        data = config_to_dict(self)
        hp = self.hyperparameters()
        for key in _HP_FIELDS:
            value = getattr(hp, key)
            data[key] = list(value) if isinstance(value, tuple) else value
        return data

    @property
    def run_dir(self) -> Path:
        """The run folder (``--out``, or the default derived from env, algorithm and seed)."""
        assert self.out is not None  # set in __post_init__
        return self.out


def parse_args(argv: Sequence[str] | None = None) -> HerConfig:
    """Parse the ``python -m baselines.her`` command line (one-line errors, exit status 2)."""
    return parse_config(
        HerConfig,
        argv,
        prog="python -m baselines.her",
        description="Hindsight Experience Replay (Stable-Baselines3) on a registered goal env.",
    )


def resolve_hyperparameters(config: HerConfig, episode_steps: int) -> dict[str, Any]:
    """The concrete SB3 settings for ``config`` on an env whose episodes last ``episode_steps``."""
    h = config.hyperparameters()
    gamma = h.gamma if h.gamma is not None else 1.0 - 1.0 / episode_steps
    buffer_size = (
        config.buffer_size if config.buffer_size is not None else min(10**6, config.timesteps)
    )
    # A HER buffer can only sample finished episodes, so wait for one episode per env.
    learning_starts = (
        config.learning_starts if config.learning_starts is not None else episode_steps * h.n_envs
    )
    policy_delay = 2 if h.algo == "td3" else 1
    train_steps = h.train_steps if h.train_steps is not None else h.train_episodes * episode_steps
    target_updates_per_cycle = max(1, h.gradient_steps // policy_delay)
    hp: dict[str, Any] = {
        "learning_rate": h.lr,
        "buffer_size": int(buffer_size),
        "learning_starts": int(learning_starts),
        "batch_size": h.batch_size,
        "gamma": gamma,
        # SB3 allows episodic train_freq only with one env; episodes end by TimeLimit, so
        # T steps of every env are exactly one episode each, and rollouts stay episode-aligned.
        "train_freq": [train_steps, "step"],
        "gradient_steps": h.gradient_steps,
        "policy_kwargs": {"net_arch": list(h.net_arch)},
        "replay_buffer_kwargs": {
            "n_sampled_goal": h.n_sampled_goal,
            "goal_selection_strategy": h.goal_strategy,
        },
    }
    if h.algo in ("sac", "tqc"):
        # SAC and TQC can update their targets once per cycle, exactly like baselines.
        hp["tau"] = 1.0 - h.polyak
        hp["target_update_interval"] = h.gradient_steps
    else:
        hp["tau"] = 1.0 - h.polyak ** (1.0 / target_updates_per_cycle)
        hp["action_noise_sigma"] = h.action_noise
        if h.random_eps > 0:
            hp["random_eps"] = h.random_eps
        if h.action_l2 > 0:
            hp["policy_kwargs"]["action_l2"] = h.action_l2
    return hp
