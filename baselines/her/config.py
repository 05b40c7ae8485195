"""Command line and hyperparameters of the HER runner.

Defaults follow the single-worker reading of OpenAI baselines' DDPG+HER configuration (Plappert
et al. 2018), the setting both papers compare against; see the fact sheet
(``baselines_algorithms.md`` sections 4.1-4.3):

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

Not reproduced (no SB3 equivalent, see the fact sheet 4.3): random_eps 0.3 uniform actions, the
action L2 penalty, return clipping and MPI gradient averaging over 19 workers.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

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


def _int_at_least(name: str, minimum: int) -> Any:
    """An argparse type: an integer >= ``minimum`` (``2e5`` is accepted for 200000)."""

    def parse(text: str) -> int:
        try:
            value = int(float(text)) if "e" in text.lower() else int(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be >= {minimum}, got {value}")
        return value

    return parse


def _positive_int(name: str) -> Any:
    return _int_at_least(name, 1)


def _non_negative_int(name: str) -> Any:
    return _int_at_least(name, 0)


def _positive_float(name: str, upper: float | None = None) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not value > 0 or (upper is not None and value > upper):
            bound = f" and <= {upper}" if upper is not None else ""
            raise argparse.ArgumentTypeError(f"{name} must be > 0{bound}, got {value}")
        return value

    return parse


def _net_arch(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--net-arch must be comma-separated layer sizes such as 256,256,256, got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--net-arch needs positive layer sizes, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m baselines.her`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m baselines.her",
        description="Hindsight Experience Replay (Stable-Baselines3) on a registered goal env.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    run = parser.add_argument_group("run")
    run.add_argument("--env", required=True, help="goal env ID, e.g. EggHandOverSparse-v0")
    run.add_argument("--algo", choices=ALGOS, default="ddpg", help="off-policy learner")
    run.add_argument(
        "--timesteps", type=_positive_int("--timesteps"), required=True, help="total env steps"
    )
    run.add_argument("--out", default=None, help="run folder; None: runs/her/ENV_ALGO_sSEED")
    run.add_argument("--seed", type=_non_negative_int("--seed"), default=0, help="random seed")
    run.add_argument(
        "--n-envs", type=_positive_int("--n-envs"), default=2, help="envs stepped in lockstep"
    )
    run.add_argument("--resume", action="store_true", help="continue the run in --out")
    run.add_argument("--threads", type=_positive_int("--threads"), default=1, help="torch threads")
    run.add_argument("--device", default="cpu", help="torch device")
    run.add_argument(
        "--eval-freq", type=_positive_int("--eval-freq"), default=5000, help="env steps per eval"
    )
    run.add_argument(
        "--eval-episodes", type=_positive_int("--eval-episodes"), default=10, help="per eval"
    )
    run.add_argument(
        "--checkpoint-freq",
        type=_positive_int("--checkpoint-freq"),
        default=25000,
        help="env steps between checkpoints (model + replay buffer)",
    )
    run.add_argument(
        "--video", action=argparse.BooleanOptionalAction, default=True, help="final eval video"
    )
    run.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar"
    )
    run.add_argument(
        "--verbose", type=int, default=1, choices=(0, 1, 2), help="2: SB3 logs and tracebacks"
    )

    hp = parser.add_argument_group("hyperparameters (defaults: the papers' DDPG+HER)")
    hp.add_argument(
        "--n-sampled-goal", type=_positive_int("--n-sampled-goal"), default=4, help="HER k"
    )
    hp.add_argument(
        "--goal-strategy",
        choices=("future", "final", "episode"),
        default="future",
        help="HER goal selection",
    )
    hp.add_argument(
        "--net-arch", type=_net_arch, default=[256, 256, 256], help="hidden sizes, e.g. 256,256"
    )
    hp.add_argument("--lr", type=_positive_float("--lr"), default=1e-3, help="actor and critic")
    hp.add_argument("--batch-size", type=_positive_int("--batch-size"), default=256, help="batch")
    hp.add_argument(
        "--buffer-size",
        type=_positive_int("--buffer-size"),
        default=None,
        help="None: min(1e6, --timesteps)",
    )
    hp.add_argument(
        "--gamma", type=_positive_float("--gamma", 1.0), default=None, help="None: 1 - 1/T"
    )
    hp.add_argument(
        "--polyak",
        type=_positive_float("--polyak", 1.0),
        default=0.95,
        help="target decay per 40-update cycle",
    )
    hp.add_argument(
        "--train-episodes",
        type=_positive_int("--train-episodes"),
        default=1,
        help="train after this many episodes per env",
    )
    hp.add_argument(
        "--gradient-steps",
        type=_positive_int("--gradient-steps"),
        default=40,
        help="updates per training cycle",
    )
    hp.add_argument(
        "--learning-starts",
        type=_non_negative_int("--learning-starts"),
        default=None,
        help="None: T * n_envs (one episode per env)",
    )
    hp.add_argument("--action-noise", type=float, default=0.2, help="Gaussian sigma (DDPG/TD3)")
    hp.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="running observation normalisation (VecNormalize, clip 5)",
    )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and complete the arguments (default ``--out``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.action_noise < 0:
        parser.error("--action-noise must be >= 0")
    if args.out is None:
        args.out = f"runs/her/{args.env.replace(':', '_')}_{args.algo}_s{args.seed}"
    return args


def resolve_hyperparameters(args: argparse.Namespace, episode_steps: int) -> dict[str, Any]:
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
