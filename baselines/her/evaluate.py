"""A finished HER run's final policy on many episodes: ``python -m baselines.her.evaluate``.

``python -m baselines.her.evaluate --runs RUN [RUN ...] [--episodes 100] [--out TABLE.md]``

A run evaluates on 10 episodes as it trains, so its success rates move in steps of 0.1 and a
single row says little about where a policy stands. This command loads each run's
``final_model.zip`` with its observation normaliser and runs ``--episodes`` deterministic episodes
on the run's own evaluation env (the same wrappers and seed). The first 10 episodes are the goals
of the run's own evaluations, so their success equals its last ``metrics.csv`` row; the rest are
further goals of the same stream. Each row gives success at the last step and at any step with a
95 % Wilson interval, and the mean return; ``TABLE.json`` beside ``TABLE.md`` holds the same.
The run folder is only read.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scipy.stats import binomtest

from baselines.common.cli import UserError, option, parse_config, run_cli
from baselines.common.evaluation import evaluate_goal_policy
from baselines.common.runfolder import CONFIG_FILE, read_json, write_json
from baselines.common.runtime import configure_torch
from baselines.common.sb3 import load_vecnormalize
from baselines.her.config import HerConfig
from baselines.her.train import ALGO_CLASSES, EVAL_SEED_OFFSET, eval_wrappers, make_envs

PROG = "python -m baselines.her.evaluate"


@dataclass(frozen=True)
class EvaluateConfig:
    """One ``python -m baselines.her.evaluate`` call."""

    runs: tuple[str, ...] = option(help="finished HER run folders (python -m baselines.her)", required=True)  # fmt: skip
    episodes: int = option(100, help="deterministic episodes per run", minimum=1)
    out: Path | None = option(None, help="write the Markdown table here (and TABLE.json beside it)")  # fmt: skip

    def __post_init__(self) -> None:
        if self.out is not None and self.out.suffix != ".md":
            raise ValueError(f"--out: expected a .md file, got {self.out}")


@dataclass(frozen=True)
class EvaluateRow:
    """One run's final policy over ``episodes`` episodes."""

    run: str
    env: str
    preset: str
    seed: int
    timesteps: int
    episodes: int
    success_final: float
    success_final_ci: tuple[float, float]
    success_any: float
    success_any_ci: tuple[float, float]
    mean_return: float


def run_config(run_dir: Path) -> HerConfig:
    """The run's settings as its ``config.json`` records them."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"--runs {run_dir}: not a HER run folder (no {CONFIG_FILE})")
    recorded = read_json(path, expect=dict)
    if recorded.get("runner") != "baselines.her":
        raise UserError(f"--runs {run_dir}: a run of {recorded.get('runner')!r}, not of baselines.her")  # fmt: skip
    names = {f.name for f in dataclasses.fields(HerConfig)}
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items() if k in names}  # fmt: skip
    values.update(out=run_dir, resume=False)
    return HerConfig(**values)


def evaluate_run(run_dir: Path, episodes: int) -> EvaluateRow:
    config = run_config(run_dir)
    model_path = run_dir / "final_model.zip"
    if not model_path.is_file():
        raise UserError(f"--runs {run_dir}: no final_model.zip (the run has not finished a session)")  # fmt: skip
    h = config.hyperparameters()
    venv, _ = make_envs(config.env, 1, config.seed + EVAL_SEED_OFFSET, False, training=False,
                        wrappers=eval_wrappers(config))  # fmt: skip
    env: Any = venv
    if h.normalize:
        env = load_vecnormalize(run_dir / "final_vecnormalize.pkl", venv, training=False)
    # the replay buffer is not needed to act: a small one instead of the run's million
    model = ALGO_CLASSES[h.algo].load(str(model_path), env=env, device="cpu", buffer_size=10_000)
    result = evaluate_goal_policy(model, env, episodes, seed=config.seed + EVAL_SEED_OFFSET)
    env.close()

    def rate_and_interval(rate: float) -> tuple[float, tuple[float, float]]:
        ci = binomtest(round(rate * episodes), episodes).proportion_ci(0.95, method="wilson")
        return rate, (round(float(ci.low), 4), round(float(ci.high), 4))

    final, final_ci = rate_and_interval(result.success_final)
    any_step, any_ci = rate_and_interval(result.success_any)
    return EvaluateRow(
        run=str(run_dir), env=config.env, preset=config.preset, seed=config.seed,
        timesteps=int(model.num_timesteps), episodes=episodes, success_final=final,
        success_final_ci=final_ci, success_any=any_step, success_any_ci=any_ci,
        mean_return=round(result.mean_return, 3),
    )  # fmt: skip


def markdown_table(rows: Sequence[EvaluateRow]) -> str:
    lines = [
        "| run | env | preset | seed | env steps | episodes | success at the last step (95 % CI) | at any step (95 % CI) | mean return |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {Path(r.run).name} | {r.env} | {r.preset} | {r.seed} | {r.timesteps:,} | {r.episodes} "
            f"| {r.success_final:.2f} ({r.success_final_ci[0]:.2f}-{r.success_final_ci[1]:.2f}) "
            f"| {r.success_any:.2f} ({r.success_any_ci[0]:.2f}-{r.success_any_ci[1]:.2f}) "
            f"| {r.mean_return:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    def body() -> int:
        config = parse_config(EvaluateConfig, argv, PROG, description=__doc__.split("\n\n")[0])
        configure_torch(1)
        rows = [evaluate_run(Path(run), config.episodes) for run in config.runs]
        table = markdown_table(rows)
        print(table, end="")
        if config.out is not None:
            config.out.parent.mkdir(parents=True, exist_ok=True)
            config.out.write_text(table)
            write_json(config.out.with_suffix(".json"), [dataclasses.asdict(r) for r in rows])
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
