"""``python -m baselines.topdm --env ID --preset {paper,paper_k40,reduced,smoke} --out DIR``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from baselines.common.runtime import configure_rendering


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m baselines.topdm", description=__doc__)
    parser.add_argument("--env", required=True, help="env ID, e.g. EggHandOver-v0 (dense)")
    parser.add_argument("--preset", required=True, choices=["paper", "paper_k40", "reduced", "smoke"])  # fmt: skip
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--mppi", action="store_true", help="MPPI at the same simulator budget")
    parser.add_argument("--trajectories", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="rollout threads (default: all cores)")  # fmt: skip
    parser.add_argument("--no-video", action="store_true")
    args = parser.parse_args(argv)
    configure_rendering()
    import dexterous_gym  # noqa: F401
    from baselines.common.runfolder import prepare_run_folder
    from baselines.topdm.config import make_config
    from baselines.topdm.run import run

    if args.trajectories < 1:
        parser.error("--trajectories must be >= 1")
    config = make_config(args.preset, args.env)
    run_config = {
        "env": args.env,
        "preset": args.preset,
        "seed": args.seed,
        "mppi": args.mppi,
        "trajectories": args.trajectories,
        "planner_config": config.to_dict(),
    }
    out = prepare_run_folder(args.out, run_config, args.resume)
    summary = run(args.env, config, out, args.seed, args.trajectories, args.mppi, args.resume,
                  video=not args.no_video, n_threads=args.threads)  # fmt: skip
    print(f"success rate (final step): {summary['success_rate_final']}, "
          f"mean return {summary['mean_return']:.3f}; results in {out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
