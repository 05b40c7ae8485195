"""Reproduce the FSM swarm's science and the steering results from the command line.

    python -m swarm_gym.experiments reproduce --preset paper --out docs/results/swarm
    python -m swarm_gym.experiments steer --preset paper --out docs/results/swarm
    python -m swarm_gym.experiments sweep --variants V.json --seeds 0 1 2 --jobs 16 --out S.json

    python -m swarm_gym.experiments correlations --preset paper --out docs/results/swarm_correlations

``reproduce`` runs N = 50, tau = 4 for 1000 steps with 3 seeds (``paper``) and writes per-step
metrics (CSV), a summary over steps 200-1000 (JSON), the order-parameter plot (PNG) and an animated
GIF of the flock. ``steer`` runs the informed-agent experiments of :mod:`swarm_gym.steering`: a
90-degree turn of the target direction and a waypoint path. ``sweep`` runs the turn experiment for
many steering settings and seeds on a process pool. ``correlations`` measures the correlation
length xi of velocity fluctuations against flock size L (FSM at N = 25-200, the heuristic at 500
and 1000; ``--preset continuous``: the continuous model, FSM at N = 25-100 and its heuristic at
100-1000; ``--resume`` continues an interrupted experiment). ``smoke`` presets are small and fast.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from typing import NoReturn

from swarm_gym.experiments import correlations
from swarm_gym.experiments.presets import REPRODUCE_PRESETS
from swarm_gym.experiments.runners import check_variants, reproduce, steer, sweep


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake prints one line (no usage block) and exits with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m swarm_gym.experiments``."""
    ap = _Parser(prog="python -m swarm_gym.experiments", description=__doc__.replace("``", ""),
                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument(
        "command", choices=["reproduce", "steer", "sweep", "correlations"], help="what to run"
    )
    presets = list(REPRODUCE_PRESETS) + [
        p for p in correlations.CORRELATION_PRESETS if p not in REPRODUCE_PRESETS
    ]
    ap.add_argument("--preset", choices=presets, default="smoke",
                    help="paper: N 50, tau 4, 1000 steps, 3 seeds; smoke: seconds; continuous "
                         "(correlations only): the continuous model (default: smoke)")  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path("runs/swarm"),
                    help="results folder (sweep: a JSON file) (default: runs/swarm)")  # fmt: skip
    ap.add_argument("--no-gif", action="store_true", help="skip the animated GIF (default: off)")
    ap.add_argument("--variants", type=Path, help="sweep: JSON {name: Steering settings} (required for sweep)")  # fmt: skip
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="sweep: seeds (default: 0 1 2)")  # fmt: skip
    ap.add_argument("--jobs", type=int, default=1, help="sweep: worker processes (default: 1)")
    ap.add_argument("--resume", action="store_true", help="correlations: keep the runs already in --out (default: off)")  # fmt: skip
    return ap


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 for a usage mistake)."""
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.command != "correlations" and args.preset not in REPRODUCE_PRESETS:
        ap.error(f"--preset {args.preset} is a correlations preset; {args.command} takes "
                 f"{' or '.join(REPRODUCE_PRESETS)}")  # fmt: skip
    if args.command == "sweep":
        if args.variants is None:
            ap.error("sweep needs --variants FILE.json")
        try:
            variants = json.loads(args.variants.read_text())
        except (OSError, json.JSONDecodeError) as err:
            ap.error(f"--variants: cannot read {args.variants}: {err}")
        if not isinstance(variants, dict) or not all(
            isinstance(v, dict) for v in variants.values()
        ):
            ap.error("--variants: expected a JSON object {name: {Steering settings}}")
        try:
            check_variants(variants)
        except ValueError as err:
            ap.error(f"--variants: {err}")
        if args.jobs < 1:
            ap.error(f"--jobs must be >= 1, got {args.jobs}")
        if min(args.seeds) < 0:
            ap.error(f"--seeds must be >= 0, got {min(args.seeds)}")
        if args.out.is_dir():
            ap.error(f"--out must be a file for sweep, got the folder {args.out}")
        res = sweep(variants, args.seeds, args.out, args.jobs, args.preset)
        print(json.dumps(res["success"], indent=1))
        return 0
    if args.out.exists() and not args.out.is_dir():
        ap.error(f"--out must be a folder, got the file {args.out}")
    # as the baselines' CLIs: a new experiment needs a new or empty folder (hidden files aside),
    # and --resume an experiment to continue
    contents = sorted(p.name for p in args.out.iterdir() if not p.name.startswith(".")) if args.out.is_dir() else []  # fmt: skip
    if args.resume and args.command != "correlations":
        ap.error(f"--resume continues a correlations experiment; {args.command} runs in one go")
    if args.resume and not contents:
        ap.error(f"--resume: {args.out} holds no experiment to continue; start it without --resume")
    if not args.resume and contents:
        shown = ", ".join(contents[:6]) + (
            f" and {len(contents) - 6} more" if len(contents) > 6 else ""
        )
        ap.error(f"--out {args.out} is not empty ({shown}); choose a new or empty folder"
                 + (" or pass --resume" if args.command == "correlations" else ""))  # fmt: skip
    if importlib.util.find_spec("matplotlib") is None:  # checked before the simulation runs
        ap.error(
            f'{args.command} draws its figures with matplotlib: pip install "dexterous-gym[plots]"'
        )
    if args.command == "correlations":
        preset = correlations.CORRELATION_PRESETS[args.preset]
        try:
            correlations.record(preset, args.out, resume=args.resume)
            summary = correlations.analyse(args.out)
        except ValueError as err:
            ap.error(str(err))
        correlations.plot(summary, args.out / "correlations.csv", args.out / "xi_vs_L.png")
        print(json.dumps({"sizes": summary["sizes"], "fits": summary["fits"]}, indent=1))
        return 0
    fn = reproduce if args.command == "reproduce" else steer
    res = fn(args.preset, args.out, gif=not args.no_gif)
    keep = {k: v for k, v in res.items() if k not in ("params", "versions")}
    print(json.dumps(keep, indent=1)[:4000])
    return 0
