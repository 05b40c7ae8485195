"""DAgger for the FSM heuristic: ``python -m baselines.swarm_heuristic.dagger``.

    python -m baselines.swarm_heuristic.dagger --preset paper --rounds 3 --out runs/dagger
    python -m baselines.swarm_heuristic.dagger --preset paper --rounds 3 --out runs/dagger --resume

Dataset aggregation (DAgger; Ross, Gordon & Bagnell, AISTATS 2011) for the network that imitates
the FSM of Charlesworth & Turner (PNAS 2019). A network trained on the FSM's own trajectories
only ever sees flocks the FSM flies; flown by itself it drifts into states it never saw and the
flock fragments. DAgger lets the current network fly and has the expert label what it visits:

- round 0 records the FSM's decisions (the ``record`` command's ``--preset``; ``paper`` is 20
  runs of 1 000 steps of 50 agents, 1 M decisions) and trains on them;
- round k >= 1 flies the round k - 1 network, greedy, on EVERY agent (``record --weights``,
  fraction 1.0), records the FSM's labels on the states it visits (``--dagger-runs`` runs, seeds
  of their own), and retrains on round 0's runs plus the runs of rounds 1..k.

Every round's training chooses its network by flight (``train --select-by flight``:
:mod:`baselines.swarm_heuristic.flight`), so the net that flies the next round is the one that
flew best on the validation seeds. The validation and test runs are round 0's (FSM flocks), as
in ``train``.

Folder ``--out``: ``config.json``, ``versions.json``, ``summary.json`` (per round: the chosen
network's flight scores, its agreement scores, the samples, the seconds) and ``round_KK/`` with
``data/`` (a record data folder) and ``train/`` (a train run folder; ``weights.npz`` is the
round's network). A round's data folder resumes run by run (``record --resume``); its training is
written to ``train.partial/`` and renamed to ``train/`` when complete, so a killed training
starts again on ``--resume`` and a finished one is never redone. The folder is locked while the
driver runs.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from baselines.common.cli import config_to_dict, option, parse_config, require_extra, run_cli
from baselines.swarm_heuristic import record, train
from baselines.swarm_heuristic.flight import FLIGHT_SEEDS, FLIGHT_STEPS

PROG = "python -m baselines.swarm_heuristic.dagger"
#: Seed of round k's first DAgger run: ``seed + k * ROUND_SEED_STRIDE`` (round 0 uses ``seed``).
ROUND_SEED_STRIDE = 10_000


@dataclass(frozen=True)
class DaggerConfig:
    """A DAgger run: the data preset, the rounds, and the training of every round."""

    preset: record.PresetName = option(help="data preset of round 0 (smoke, small, paper)",
                                       required=True)  # fmt: skip
    out: Path = option(help="run folder (new, or the one to resume)", required=True)
    rounds: int = option(3, help="DAgger rounds after round 0", minimum=0)
    resume: bool = option(False, help="continue the run in --out from what it finished")
    model: record.ModelName = option("discrete", help="FSM model: discrete or continuous")
    runs: int | None = option(None, help="round 0 runs (None: the preset's)", minimum=1)
    steps: int | None = option(None, help="steps per run (None: the preset's)", minimum=1)
    dagger_runs: int | None = option(
        None, help="runs flown by the net in each later round (None: round 0's number)", minimum=1
    )
    seed: int = option(100, help="seed of round 0's first run", minimum=0, maximum=100_000)
    mirror: bool = option(False, help="train with the mirror images (train --mirror)")
    target: Literal["tied", "counts", "fsm"] = option("tied", help="training target (train)")
    hidden: tuple[int, ...] = option((128, 128), help="hidden widths, e.g. 128,128")
    sweep: bool = option(False, help="train every architecture of train.SWEEP each round")
    epochs: int = option(30, help="passes over the training runs", minimum=1)
    test_runs: int = option(2, help="round 0 runs held out for the reported scores", minimum=1)
    val_runs: int = option(1, help="round 0 runs that score accuracy", minimum=1)
    flight_every: int = option(5, help="fly every k-th epoch (and the last)", minimum=1)
    flight_steps: int = option(FLIGHT_STEPS, help="steps of one validation flight", minimum=2)
    flight_seeds: tuple[int, ...] = option(FLIGHT_SEEDS, help="validation flight seeds")
    threads: int = option(1, help="torch threads", minimum=1, maximum=64)


def round_dir(out: Path, k: int) -> Path:
    """The folder of round ``k``."""
    return out / f"round_{k:02d}"


def _record_round(cfg: DaggerConfig, k: int, log: Any) -> Path:
    """Record round ``k``'s data (resuming a partial folder); return the data folder."""
    data = round_dir(cfg.out, k) / "data"
    args = ["--preset", cfg.preset, "--out", str(data), "--model", cfg.model]
    if cfg.steps is not None:
        args += ["--steps", str(cfg.steps)]
    if k == 0:
        args += ["--seed", str(cfg.seed)]
        if cfg.runs is not None:
            args += ["--runs", str(cfg.runs)]
    else:
        runs = cfg.dagger_runs or cfg.runs or record.PRESETS[cfg.preset]["runs"]
        weights = round_dir(cfg.out, k - 1) / "train" / "weights.npz"
        args += ["--seed", str(cfg.seed + k * ROUND_SEED_STRIDE), "--runs", str(runs),
                 "--weights", str(weights), "--fraction", "1.0"]  # fmt: skip
    if (data / "config.json").exists():
        args.append("--resume")
    rec = parse_config(record.RecordConfig, args, record.PROG)
    return record.record(rec, log=lambda line: log(f"round {k} record: {line}"))


def _train_round(cfg: DaggerConfig, k: int, log: Any) -> dict[str, Any]:
    """Train round ``k`` on round 0's data plus rounds 1..k (unless already done); its summary."""
    folder = round_dir(cfg.out, k)
    done, partial = folder / "train", folder / "train.partial"
    from baselines.common.runfolder import read_json  # loads MuJoCo: at run time only

    if (done / "summary.json").exists():
        return dict(read_json(done / "summary.json", expect=dict))
    if partial.exists():  # a killed training: it has no resume, so it starts again
        shutil.rmtree(partial)
    args = ["--data", str(round_dir(cfg.out, 0) / "data"), "--out", str(partial), "--target",
            cfg.target, "--hidden", ",".join(map(str, cfg.hidden)), "--epochs", str(cfg.epochs),
            "--test-runs", str(cfg.test_runs), "--val-runs", str(cfg.val_runs), "--select-by",
            "flight", "--flight-every", str(cfg.flight_every), "--flight-steps",
            str(cfg.flight_steps), "--flight-seeds", ",".join(map(str, cfg.flight_seeds)),
            "--threads", str(cfg.threads)]  # fmt: skip
    args += ["--mirror"] * cfg.mirror + ["--sweep"] * cfg.sweep
    more = [round_dir(cfg.out, j) / "data" for j in range(1, k + 1)]
    summary = train.train(
        parse_config(train.TrainConfig, args, train.PROG),
        log=lambda line: log(f"round {k} train: {line}"),
        more_data=more,
    )
    partial.rename(done)
    return summary


def dagger(cfg: DaggerConfig, log: Any = print) -> dict[str, Any]:
    """Run (or resume) every round of ``cfg``; write and return the summary."""
    from baselines.common.runfolder import (
        prepare_run_folder,
        read_json,
        run_folder_lock,
        write_json,
    )

    with run_folder_lock(cfg.out):
        conf = {**config_to_dict(cfg), "algorithm": "swarm_heuristic_dagger"}
        # more rounds may be added on resume: round k does not depend on the total
        out = prepare_run_folder(cfg.out, conf, cfg.resume, resume_ignore=("rounds", "resume"))
        if cfg.resume:
            write_json(out / "config.json", conf)
        # a resumed run keeps the rows (and seconds) of the rounds it had finished
        previous: dict[int, dict[str, Any]] = {}
        if cfg.resume and (out / "summary.json").exists():
            rows = read_json(out / "summary.json", expect=dict).get("rounds", [])
            previous = {int(r["round"]): r for r in rows}
        rounds: list[dict[str, Any]] = []
        for k in range(cfg.rounds + 1):
            if k in previous and (round_dir(out, k) / "train" / "summary.json").exists():
                rounds.append(previous[k])
                log(f"round {k}: done (flight {previous[k]['flight']:.3f})")
                continue
            start = time.perf_counter()
            source = "FSM data" if k == 0 else f"the round {k - 1} net flies, the FSM labels"
            log(f"round {k}/{cfg.rounds}: {source}")
            _record_round(cfg, k, log)
            summary = _train_round(cfg, k, log)
            chosen = summary["chosen"]
            row = {"round": k, "weights": str(round_dir(out, k) / "train" / "weights.npz"),
                   "samples": summary["samples"], "seconds": time.perf_counter() - start,
                   **{key: chosen[key] for key in ("hidden", "best_epoch", "flight",
                                                   "flight_order", "flight_cluster")},
                   **{key: value for key, value in chosen.items()
                      if key.startswith(("val_", "test_"))}}  # fmt: skip
            rounds.append(row)
            log(f"round {k}: flight {row['flight']:.3f} (order {row['flight_order']:.3f}, "
                f"cluster {row['flight_cluster']:.3f}), test tied {row['test_tied']:.3f}, "
                f"{row['seconds']:.0f} s")  # fmt: skip
            write_json(out / "summary.json", {"rounds": rounds})
        best = max(rounds, key=lambda r: r["flight"])
        result = {"rounds": rounds, "best_round": best["round"], "best_weights": best["weights"]}
        write_json(out / "summary.json", result)
        log(f"best: round {best['round']} (flight {best['flight']:.3f}), {best['weights']}")
        return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    config = parse_config(
        DaggerConfig, argv, PROG, description="DAgger for the FSM heuristic, chosen by flight."
    )

    def body() -> int:
        require_extra("torch", "baselines", PROG)
        dagger(config)
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
