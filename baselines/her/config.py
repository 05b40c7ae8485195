"""Command line and hyperparameters of the HER runner.

Defaults follow the single-worker reading of OpenAI baselines' DDPG+HER configuration (Plappert
et al. 2018), the setting both papers compare against; see Plappert et al.
(2018), "Multi-Goal Reinforcement Learning", and docs/results/her.md:

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

Not reproduced (no Stable-Baselines3 equivalent): random_eps 0.3 uniform actions, the
action L2 penalty, return clipping and MPI gradient averaging over 19 workers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from baselines.common.cli import MAX_ENVS, MAX_SEED, MAX_THREADS, option, parse_config

ALGOS = ("ddpg", "td3", "sac")

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
    algo: Literal["ddpg", "td3", "sac"] = option("ddpg", help="off-policy learner", group=_RUN)
    out: Path | None = option(None, help="run folder; None: runs/her/ENV_ALGO_sSEED", group=_RUN)
    seed: int = option(0, help="random seed", minimum=0, maximum=MAX_SEED, group=_RUN)
    n_envs: int = option(2, help="envs stepped in lockstep", minimum=1, maximum=MAX_ENVS, group=_RUN)  # fmt: skip
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

    n_sampled_goal: int = option(4, help="HER k: relabelled goals per transition", minimum=1, group=_HP)  # fmt: skip
    goal_strategy: Literal["future", "final", "episode"] = option(
        "future", help="HER goal selection", group=_HP
    )
    net_arch: tuple[int, ...] = option((256, 256, 256), help="hidden sizes, e.g. 256,256", group=_HP)  # fmt: skip
    lr: float = option(1e-3, help="learning rate of actor and critic", positive=True, group=_HP)
    batch_size: int = option(256, help="minibatch size", minimum=1, group=_HP)
    buffer_size: int | None = option(None, help="None: min(1e6, --timesteps)", minimum=1, group=_HP)  # fmt: skip
    gamma: float | None = option(None, help="discount; None: 1 - 1/T", positive=True, maximum=1.0, group=_HP)  # fmt: skip
    polyak: float = option(
        0.95, help="target decay per 40-update cycle", positive=True, maximum=1.0, group=_HP
    )
    train_episodes: int = option(1, help="train after this many episodes per env", minimum=1, group=_HP)  # fmt: skip
    gradient_steps: int = option(40, help="updates per training cycle", minimum=1, group=_HP)
    learning_starts: int | None = option(
        None, help="None: T * n_envs (one episode per env)", minimum=0, group=_HP
    )
    action_noise: float = option(0.2, help="Gaussian sigma (DDPG/TD3)", minimum=0.0, group=_HP)
    normalize: bool = option(
        True, help="running observation normalisation (VecNormalize, clip 5)", group=_HP
    )

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
        if self.out is None:  # the default run folder names env, algorithm and seed
            name = f"{self.env.replace(':', '_')}_{self.algo}_s{self.seed}"
            object.__setattr__(self, "out", Path("runs/her") / name)

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


def resolve_hyperparameters(args: HerConfig, episode_steps: int) -> dict[str, Any]:
    """The concrete SB3 settings for ``args`` on an env whose episodes last ``episode_steps``."""
    gamma = args.gamma if args.gamma is not None else 1.0 - 1.0 / episode_steps
    buffer_size = args.buffer_size if args.buffer_size is not None else min(10**6, args.timesteps)
    # A HER buffer can only sample finished episodes, so wait for one episode per env.
    learning_starts = (
        args.learning_starts if args.learning_starts is not None else episode_steps * args.n_envs
    )
    policy_delay = 2 if args.algo == "td3" else 1
    target_updates_per_cycle = max(1, args.gradient_steps // policy_delay)
    hp: dict[str, Any] = {
        "learning_rate": args.lr,
        "buffer_size": int(buffer_size),
        "learning_starts": int(learning_starts),
        "batch_size": args.batch_size,
        "gamma": gamma,
        # SB3 allows episodic train_freq only with one env; episodes end by TimeLimit, so
        # T steps of every env are exactly one episode each, and rollouts stay episode-aligned.
        "train_freq": [args.train_episodes * episode_steps, "step"],
        "gradient_steps": args.gradient_steps,
        "policy_kwargs": {"net_arch": list(args.net_arch)},
        "replay_buffer_kwargs": {
            "n_sampled_goal": args.n_sampled_goal,
            "goal_selection_strategy": args.goal_strategy,
        },
    }
    if args.algo == "sac":
        # SAC can update its targets once per cycle, exactly like baselines.
        hp["tau"] = 1.0 - args.polyak
        hp["target_update_interval"] = args.gradient_steps
    else:
        hp["tau"] = 1.0 - args.polyak ** (1.0 / target_updates_per_cycle)
        hp["action_noise_sigma"] = args.action_noise
    return hp
