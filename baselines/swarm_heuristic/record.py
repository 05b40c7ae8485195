"""Record FSM decisions for the heuristic: ``python -m baselines.swarm_heuristic.record``.

    python -m baselines.swarm_heuristic.record --preset small --out data/fsm_small
    python -m baselines.swarm_heuristic.record --preset small --out data/fsm_small --resume
    python -m baselines.swarm_heuristic.record --preset small --model continuous --out data/cont

Runs ``runs`` seeded :class:`swarm_gym.FSMSwarm` simulations (seeds ``seed``, ``seed + 1``, ...)
and writes one ``run_NNNN.npz`` per run (format: :mod:`baselines.swarm_heuristic.dataset`), each
atomically when the run is complete. ``--resume`` checks the settings (``--runs`` may grow) and records only
the runs whose files are missing (a damaged file is reported, not overwritten). numpy and swarm_gym only.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from baselines.common.cli import MAX_SEED, option, parse_config, run_cli
from baselines.swarm_heuristic.dataset import FORMAT_VERSION, load_run, run_indices, run_path
from swarm_gym import FSMSwarm
from swarm_gym.decision import choose
from swarm_gym.heuristic import HeuristicPolicy

PROG = "python -m baselines.swarm_heuristic.record"
PresetName = Literal["smoke", "small", "paper"]
ModelName = Literal["discrete", "continuous"]

#: Named data sets: swarm size, horizon, runs, steps per run.
PRESETS: dict[str, dict[str, int]] = {
    "smoke": {"n_agents": 8, "horizon": 2, "runs": 2, "steps": 10},
    "small": {"n_agents": 50, "horizon": 4, "runs": 8, "steps": 300},
    "paper": {"n_agents": 50, "horizon": 4, "runs": 20, "steps": 1000},
}


@dataclass(frozen=True)
class RecordConfig:
    """One recording: a preset, where, from which seed; ``runs``/``steps`` override the preset."""

    preset: PresetName = option(help="data set size (smoke, small, paper)", required=True)
    out: Path = option(help="data folder (config.json + run_NNNN.npz)", required=True)
    seed: int = option(100, help="seed of run 0 (run r uses seed + r)", minimum=0,
                       maximum=MAX_SEED)  # fmt: skip
    model: ModelName = option(
        "discrete", help="FSM model: discrete (count distinct states) or continuous (weight W)"
    )
    runs: int | None = option(None, help="number of runs (None: the preset's)", minimum=1)
    steps: int | None = option(None, help="steps per run (None: the preset's)", minimum=1)
    weights: Path | None = option(
        None, help="fly the agents with this heuristic (DAgger), still recording FSM labels"
    )
    fraction: float = option(1.0, help="with --weights: fraction of heuristic agents",
                             positive=True, maximum=1.0)  # fmt: skip
    sample: bool = option(False, help="with --weights: sample the heuristic's moves")
    resume: bool = option(False, help="record the runs missing from --out")


def settings(config: RecordConfig) -> dict[str, Any]:
    """The recording's settings as stored in ``config.json``."""
    preset = dict(PRESETS[config.preset])
    if config.runs is not None:
        preset["runs"] = config.runs
    if config.steps is not None:
        preset["steps"] = config.steps
    conf: dict[str, Any] = {"preset": config.preset, "seed": config.seed, "model": config.model,
                            "format_version": FORMAT_VERSION, **preset}  # fmt: skip
    if config.weights is not None:
        conf["weights"] = str(config.weights)
        conf["fraction"] = config.fraction
        if config.sample:
            conf["sample"] = True
    return conf


def record_run(n_agents: int, horizon: int, seed: int, steps: int, weights: Path | None = None,
               fraction: float = 1.0, sample: bool = False,
               model: str = "discrete") -> dict[str, np.ndarray]:  # fmt: skip
    """Run one seeded swarm for ``steps`` steps and return its FSM decision arrays.

    ``model`` is the FSM model whose decisions are recorded (``"continuous"``: the tied-best set
    is that of the weights W; ``counts`` still holds the distinct-state counts n_alpha).

    With ``weights`` the heuristic agents (``fraction`` of them) fly by that heuristic while every
    agent's FSM decision is recorded (the data-aggregation step of DAgger: FSM labels on the
    states the heuristic visits; ``sample``: moves drawn from its probabilities rather than the
    most probable); the L/R tie of those FSM choices is drawn from a generator of
    its own (seed ``seed``), and ``moved`` holds the moves taken.
    """
    if weights is None:
        sw = FSMSwarm(n_agents=n_agents, horizon=horizon, seed=seed, model=model)
    else:
        pol = HeuristicPolicy.load(weights, greedy=not sample)
        sw = FSMSwarm(n_agents=n_agents, horizon=horizon, seed=seed, model=model, policy=pol,
                      heuristic_agents=float(fraction))  # fmt: skip
        sw.score_all = True
    tie_rng = np.random.default_rng(seed)
    moved = np.empty((steps, n_agents), dtype=np.int8)
    prev_keys = np.empty((steps, n_agents), dtype=np.int64)
    keys = np.empty((steps, n_agents), dtype=np.int64)
    action = np.empty((steps, n_agents), dtype=np.int8)
    tied = np.empty((steps, n_agents), dtype=np.uint8)
    counts = np.empty((steps, n_agents, 5), dtype=np.int16)
    place = (1 << np.arange(5)).astype(np.uint8)
    prev: np.ndarray | None = None
    for t in range(steps):
        cur = sw.visual()[0].copy()
        dec = sw.decide()
        prev_keys[t] = cur if prev is None else prev
        keys[t] = cur
        moved[t] = dec.action
        if weights is None:
            action[t] = dec.action
        else:
            action[t] = choose(dec.scores, tie_rng.random(n_agents), sw.config.tie_break)
        tied[t] = (dec.tied.astype(np.uint8) * place).sum(axis=1)
        counts[t] = dec.counts
        sw.step()
        prev = cur
    meta = {"format_version": FORMAT_VERSION, "seed": seed, "steps": steps,
            "n_agents": n_agents, "n_sensors": sw.config.n_sensors,
            "config": sw.config.to_dict()}  # fmt: skip
    return {"prev_keys": prev_keys, "keys": keys, "action": action, "tied": tied,
            "counts": counts, "moved": moved,
            "meta": np.array(json.dumps(meta, sort_keys=True))}  # fmt: skip


def record(config: RecordConfig, log: Any = print) -> Path:
    """Record the FSM decisions of ``config`` into ``config.out`` (see the module docstring); the
    folder is locked while this runs, so a second process on it stops at once."""
    # baselines.common.runfolder imports dexterous_gym (MuJoCo): loaded when a run starts, not
    # for --help
    from baselines.common.runfolder import run_folder_lock

    with run_folder_lock(config.out):
        return _record(config, log)


def _record(config: RecordConfig, log: Any = print) -> Path:
    """Record the runs of ``config`` that are missing from its folder; return the folder."""
    from baselines.common.runfolder import atomic_write, prepare_run_folder, write_json  # as above

    conf = settings(config)
    # more runs may be added on resume: run r is the same whatever the total
    out = prepare_run_folder(config.out, conf, config.resume, resume_ignore=("runs",))
    if config.resume:
        write_json(out / "config.json", conf)
    present = set(run_indices(out))
    for r in sorted(present):
        if r < conf["runs"]:
            load_run(run_path(out, r))  # refuse to build on a damaged file
    for r in range(conf["runs"]):
        if r in present:
            continue
        start = time.perf_counter()
        arrays = record_run(conf["n_agents"], conf["horizon"], conf["seed"] + r, conf["steps"],
                            config.weights, config.fraction, config.sample,
                            conf["model"])  # fmt: skip
        atomic_write(run_path(out, r), partial(_save_compressed, arrays=arrays))
        log(f"run {r} (seed {conf['seed'] + r}): {conf['steps']} steps x {conf['n_agents']} "
            f"agents in {time.perf_counter() - start:.1f} s")  # fmt: skip
    return out


def _save_compressed(handle: Any, arrays: dict[str, np.ndarray]) -> None:
    np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    config = parse_config(RecordConfig, argv, PROG,
                        description="Record FSM decisions for the NN heuristic.")  # fmt: skip
    return run_cli(PROG, lambda: (record(config), 0)[1])


if __name__ == "__main__":
    sys.exit(main())
