"""Planner budget against model quality: re-plan a PlanGAN run's evaluation goals.

``python -m baselines.plangan.replan --runs RUN [RUN ...] [--planners short paper]
[--episodes 50] [--out TABLE.md]`` loads each run's newest checkpoint (its GANs, one-step models
and scalers as trained) and plans the run's own evaluation episodes again, the same goals and
starts (seeded by (seed, EVAL_SEED + j)), with each planner budget:

* ``short``: K = 5 candidate first actions x C = 20 imagined copies each (the ``reduced`` and
  ``short`` presets' planner);
* ``paper``: K = 25 x C = 100 (the original ``train.py``'s planner).

Everything else is the run's: horizon, alpha, tolerance, canonicalisation. Where a model of little
quality plans well with a larger budget, the planner, not the model, limited the run's curve.
Each row gives both success metrics, the goals among those episodes that start solved (the floor
a planner that does nothing scores) and the wall time; ``TABLE.json`` beside ``TABLE.md`` holds the
same. The run folder is only read.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from baselines.common.checkpoint import CHECKPOINT_DIR, CheckpointStore, RunIdentity
from baselines.common.cli import MAX_THREADS, UserError, option, parse_config, run_cli
from baselines.common.runfolder import write_json
from baselines.common.runtime import configure_torch
from baselines.plangan.config import (
    RESUME_MAY_CHANGE,
    PlanGANConfig,
    PlanGANHyperparameters,
)
from baselines.plangan.train import Runner

PROG = "python -m baselines.plangan.replan"
# planner name -> (K candidate first actions, C imagined copies of each)
PLANNERS: dict[str, tuple[int, int]] = {"short": (5, 20), "paper": (25, 100)}


@dataclass(frozen=True)
class ReplanConfig:
    """One ``python -m baselines.plangan.replan`` call."""

    runs: tuple[str, ...] = option(help="PlanGAN run folders (python -m baselines.plangan)", required=True)  # fmt: skip
    planners: tuple[str, ...] = option(("short", "paper"), help=f"planner budgets, of {sorted(PLANNERS)}")  # fmt: skip
    episodes: int = option(50, help="evaluation episodes 0 .. N-1 of each run", minimum=1)
    out: Path | None = option(None, help="write the Markdown table here (and TABLE.json beside it)")  # fmt: skip
    threads: int = option(1, help="torch threads", minimum=1, maximum=MAX_THREADS)
    progress: bool = option(True, help="progress bar")

    def __post_init__(self) -> None:
        unknown = [p for p in self.planners if p not in PLANNERS]
        if unknown:
            raise ValueError(f"--planners: expected names of {sorted(PLANNERS)}, got {unknown}")
        if self.out is not None and self.out.suffix != ".md":
            raise ValueError(f"--out: expected a .md file, got {self.out}")


@dataclass(frozen=True)
class ReplanRow:
    """One run re-planned with one planner budget."""

    run: str
    seed: int
    env_steps: int  # the checkpoint's env steps, wasted trajectories included
    stored_steps: int
    finished: bool  # whether the checkpoint is the run's last (its whole stored budget)
    planner: str
    candidates: int
    copies: int
    episodes: int
    success_final: float
    success_any: float
    started_solved: int
    seconds: float


def load_run(run_dir: Path) -> tuple[PlanGANConfig, PlanGANHyperparameters, dict[str, Any]]:
    """The run's settings as its ``config.json`` records them (what it trained with)."""
    path = run_dir / "config.json"
    if not path.is_file():
        raise UserError(f"--runs {run_dir}: not a PlanGAN run folder (no config.json)")
    recorded = json.loads(path.read_text())
    if recorded.get("runner") != "baselines.plangan":
        raise UserError(f"--runs {run_dir}: a run of {recorded.get('runner')!r}, not of baselines.plangan")  # fmt: skip
    config = PlanGANConfig(env=recorded["env"], preset=recorded["preset"], out=run_dir, seed=recorded["seed"],
                           progress=False, video=False, verbose=0)  # fmt: skip
    values = {**recorded["hyperparameters"], **recorded["runtime"]}
    fields = {f.name for f in dataclasses.fields(PlanGANHyperparameters)}
    for name, value in values.items():  # JSON lists back to the dataclass's tuples
        if isinstance(value, list):
            values[name] = tuple(value)
    if set(values) != set(fields):
        raise UserError(f"--runs {run_dir}: config.json's hyperparameters are not PlanGAN's of this version")  # fmt: skip
    return config, PlanGANHyperparameters(**values), recorded


def replan(config: ReplanConfig) -> list[ReplanRow]:
    """Every run with every planner (see the module docstring)."""
    configure_torch(config.threads)
    rows = []
    for run_dir in map(Path, config.runs):
        run_config, hp, recorded = load_run(run_dir)
        identity = RunIdentity.of(recorded, run_config.seed, ignore=RESUME_MAY_CHANGE)
        store = CheckpointStore(run_dir / CHECKPOINT_DIR, identity)
        ckpt = store.latest(repair=False)
        if ckpt is None:
            raise UserError(f"--runs {run_dir}: no checkpoint under {store.root}")
        for name in config.planners:
            candidates, copies = PLANNERS[name]
            planner_hp = dataclasses.replace(hp, plan_num_init_acs=candidates, plan_num_copies=copies)  # fmt: skip
            runner = Runner(run_config, planner_hp, "cpu", run_dir, store)
            runner.restore(ckpt)  # every planner starts from the same networks and random streams
            start = time.perf_counter()
            label = f"{run_dir.name} {name} ({candidates}x{copies})"
            bar = tqdm(range(config.episodes), desc=label, unit="episode", disable=not config.progress, file=sys.stderr)  # fmt: skip
            episodes = [runner.evaluation_episode(j) for j in bar]
            s = runner.schedule
            rows.append(ReplanRow(
                run=str(run_dir), seed=run_config.seed, env_steps=s.num_env_transitions,
                stored_steps=s.curr_env_transitions, finished=s.phase == "done",
                planner=name, candidates=candidates, copies=copies, episodes=len(episodes),
                success_final=float(np.mean([e.success_final for e in episodes])),
                success_any=float(np.mean([e.success_any for e in episodes])),
                started_solved=sum(e.started_solved for e in episodes),
                seconds=round(time.perf_counter() - start, 1),
            ))  # fmt: skip
    return rows


def markdown_table(rows: Sequence[ReplanRow]) -> str:
    lines = [
        "| run | env steps (stored) | planner (K x C) | success at the last step | at any step | start solved | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        state = "" if r.finished else ", unfinished"
        lines.append(
            f"| {Path(r.run).name} (seed {r.seed}) | {r.env_steps:,} ({r.stored_steps:,}{state}) "
            f"| {r.planner} ({r.candidates} x {r.copies}) | {r.success_final:.2f} "
            f"| {r.success_any:.2f} | {r.started_solved} of {r.episodes} | {r.seconds:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    def body() -> int:
        config = parse_config(ReplanConfig, argv, PROG, description=__doc__.split("\n\n")[0])
        rows = replan(config)
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
