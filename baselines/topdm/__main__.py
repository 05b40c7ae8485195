"""``python -m baselines.topdm --env ID --preset {paper,paper_k40,reduced,demos,demos_spin,campaign,smoke} --out DIR``."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from baselines.common.cli import MAX_SEED, MAX_THREADS, option, parse_config, run_cli
from baselines.common.runtime import configure_rendering

PROG = "python -m baselines.topdm"
PresetName = Literal["paper", "paper_k40", "reduced", "demos", "demos_spin", "campaign", "smoke"]


@dataclass(frozen=True)
class TopdmRunConfig:
    """One ``python -m baselines.topdm`` run: which env, which preset, where, how many."""

    env: str = option(help="dense env ID, e.g. EggHandOver-v0", required=True)
    preset: PresetName = option(help="planner settings (see docs/topdm.md)", required=True)
    out: Path = option(help="run folder (one traj_NNN/ per trajectory)", required=True)
    seed: int = option(
        0, help="seed of the first trajectory (then seed+1, ...)", minimum=0, maximum=MAX_SEED
    )
    resume: bool = option(False, help="continue the run in --out")
    mppi: bool = option(False, help="MPPI at the same simulator budget instead of TOPDM")
    trajectories: int = option(1, help="independent trajectories", minimum=1)
    threads: int | None = option(
        None, help="rollout threads (None: all cores)", minimum=1, maximum=MAX_THREADS
    )
    video: bool = option(True, help="a captioned GIF of each trajectory")
    overrides: tuple[str, ...] = option(
        (),
        help="planner settings that differ from the preset, e.g. later_noise_frac=1.0",
        flag="--set",
        metavar="SETTING=VALUE",
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_config(
        TopdmRunConfig,
        argv,
        PROG,
        description="TOPDM (or MPPI) trajectories on a Dexterous Gym env, in a resumable run folder.",
    )
    configure_rendering()
    return run_cli(PROG, lambda: _run(args))


def _run(args: TopdmRunConfig) -> int:
    import dexterous_gym  # noqa: F401
    from baselines.common.envs import check_env_id
    from baselines.common.runfolder import starting_run
    from baselines.topdm.config import make_config, parse_overrides
    from baselines.topdm.run import check_resume, dexterous_env, run, run_folder_config

    # everything the user can get wrong is checked before the run folder exists, so a mistake
    # leaves nothing behind that would block the corrected command
    check_env_id(args.env)
    dexterous_env(args.env).close()  # TOPDM needs the state API of a Dexterous Gym env
    config = make_config(args.preset, args.env, **parse_overrides(args.overrides))
    run_config = run_folder_config(
        args.env, args.preset, args.seed, args.mppi, args.trajectories, config
    )
    with starting_run(args.out, run_config, args.resume) as out:  # undone if the checks fail
        if args.resume:
            check_resume(args.env, config, out, args.seed, args.trajectories, args.mppi)
    summary = run(args.env, config, out, args.seed, args.trajectories, args.mppi, args.resume,
                  video=args.video, n_threads=args.threads)  # fmt: skip
    print(f"success rate (final step): {summary['success_rate_final']}, "
          f"mean return {summary['mean_return']:.3f}; results in {out}")  # fmt: skip
    return 0


__all__ = ["TopdmRunConfig", "main"]

if __name__ == "__main__":
    sys.exit(main())
