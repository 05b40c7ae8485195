"""TD3+demos settings: the command line, and the presets as data.

The ``paper`` preset holds the original experiment's numbers (Charlesworth & Montana, ICML 2021:
``main.py`` defaults with ``--beta 0.7 --use_normaliser``): 10 M env steps, 25 000 random
warm-up steps, batch 256, gamma 0.98, tau 0.005, exploration noise 0.1 before blending, target
noise 0.2 clipped at 0.5, policy delay 2, Adam 3e-4, two 256-unit layers, a 1 M replay buffer,
15-step segments with p_demo 0.7 and p_reset 0.2 decaying by 0.999996 per segment, and 10
deterministic 250-step evaluation episodes every 5 000 env steps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from baselines.common.cli import MAX_SEED, MAX_THREADS, option, parse_config

PROG = "python -m baselines.td3_demos"
PresetName = Literal["paper", "reduced", "smoke"]


@dataclass(frozen=True)
class Td3DemosHyperparameters:
    """Everything the algorithm needs apart from where and which run."""

    timesteps: int = 10_000_000
    learning_starts: int = 25_000
    batch_size: int = 256
    buffer_size: int = 1_000_000
    gamma: float = 0.98
    tau: float = 0.005
    lr: float = 3e-4
    net_arch: tuple[int, ...] = (256, 256)
    expl_noise: float = 0.1
    target_policy_noise: float = 0.2
    target_noise_clip: float = 0.5
    policy_delay: int = 2
    beta: float = 0.7
    segment_steps: int = 15
    p_demo: float = 0.7
    p_reset: float = 0.2
    decay: float = 0.999996
    normalize: bool = True
    recompute_every: int = 20
    eval_freq: int = 5000
    eval_episodes: int = 10
    episode_steps: int = 250
    checkpoint_freq: int = 50_000
    video_steps: int = 1000

    def __post_init__(self) -> None:
        positive = ("timesteps", "batch_size", "buffer_size", "policy_delay", "segment_steps",
                    "recompute_every", "eval_freq", "eval_episodes", "episode_steps",
                    "checkpoint_freq", "video_steps")  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        bounded = {"gamma": (0, 1), "tau": (0, 1), "p_demo": (0, 1), "p_reset": (0, 1), "decay": (0, 1), "beta": (0, 1)}  # fmt: skip
        for name, (low, high) in bounded.items():
            value = getattr(self, name)
            if not low <= value <= high or (name in ("beta", "decay") and value == 0):
                raise ValueError(f"{name} must lie in {'(' if name in ('beta', 'decay') else '['}{low}, {high}], got {value}")  # fmt: skip
        if self.p_demo + self.p_reset > 1:
            raise ValueError(f"p_demo + p_reset must be <= 1, got {self.p_demo + self.p_reset}")
        if self.learning_starts < 0 or self.lr <= 0 or self.expl_noise < 0:
            raise ValueError("learning_starts and expl_noise must be >= 0 and lr > 0")


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # what fits a 2-core machine: 3 % of the paper's 10 M steps, everything else as the paper
    "reduced": {"timesteps": 300_000},
    # seconds, for tests
    "smoke": {
        "timesteps": 300, "learning_starts": 100, "batch_size": 32, "buffer_size": 10_000,
        "net_arch": (32, 32), "eval_freq": 150, "eval_episodes": 1, "episode_steps": 20,
        "checkpoint_freq": 150, "video_steps": 10,
    },
}  # fmt: skip

# Settings a resumed run may change; the rest must match the run's config.json.
RESUME_MAY_CHANGE = ("timesteps", "resume", "out", "threads", "device", "video", "progress", "verbose")  # fmt: skip


@dataclass(frozen=True)
class Td3DemosConfig:
    """One ``python -m baselines.td3_demos`` run."""

    preset: PresetName = option(help="settings (paper: the original experiment)", required=True)
    out: Path = option(help="run folder", required=True)
    env: str = option("PenSpin-v0", help="env ID (dense reward)")
    demos: Path | None = option(
        None, help="folder of TOPDM trajectory files (None: the demonstrations shipped for --env)"
    )
    no_demos: bool = option(False, help="TD3 alone: no demo-state or fresh-reset segments")
    beta: float | None = option(
        None, help="action coupling (1: none; None: the preset's 0.7)", positive=True, maximum=1.0
    )
    timesteps: int | None = option(None, help="total env steps (None: the preset's)", minimum=1)
    seed: int = option(0, help="random seed", minimum=0, maximum=MAX_SEED)
    resume: bool = option(False, help="continue the run in --out")
    threads: int = option(1, help="torch threads", minimum=1, maximum=MAX_THREADS)
    device: str = option("cpu", help="torch device (cpu, cuda, auto)")
    video: bool = option(True, help="a video of the final policy (video_steps steps)")
    progress: bool = option(True, help="progress bar")
    verbose: Literal[0, 1, 2] = option(1, help="2: SB3 logs and tracebacks")

    def hyperparameters(self) -> Td3DemosHyperparameters:
        """The preset with this run's overrides applied."""
        values = dict(PRESETS[self.preset])
        if self.beta is not None:
            values["beta"] = self.beta
        if self.timesteps is not None:
            values["timesteps"] = self.timesteps
        if self.no_demos:
            values["p_demo"] = values["p_reset"] = 0.0
        return Td3DemosHyperparameters(**values)

    @property
    def algorithm(self) -> str:
        """The curve label: TD3+demos, or TD3 (beta) / TD3 (no coupling) for the baselines."""
        beta = self.hyperparameters().beta
        if not self.no_demos:
            return "TD3+demos" if beta < 1 else "TD3+demos (no coupling)"
        return f"TD3 (beta {beta:g})" if beta < 1 else "TD3 (no coupling)"


def parse_args(argv: Sequence[str] | None = None) -> Td3DemosConfig:
    """Parse the command line (one-line errors, exit status 2)."""
    return parse_config(
        Td3DemosConfig, argv, PROG, description="TD3 with demo-state segments and action coupling."
    )


def hyperparameters_dict(hp: Td3DemosHyperparameters) -> dict[str, Any]:
    data = dataclasses.asdict(hp)
    data["net_arch"] = list(hp.net_arch)
    return data
