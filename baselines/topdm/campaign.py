"""TOPDM (or MPPI) campaigns: many independent trajectories over several envs, here or on Ray.

    python -m baselines.topdm.campaign --envs EggHandOver-v0 BlockHandOver-v0 --trajectories 5 \\
        --preset campaign --out runs/table/topdm [--mppi] [--resume] [--ray-address auto]

Layout: ``OUT/config.json`` (the campaign's settings) and one run folder per env, ``OUT/ENV_ID/``,
in the format of ``python -m baselines.topdm`` (``config.json`` and one ``traj_NNN/`` per
trajectory, seeds ``seed + NNN``), so each env folder can also be continued or reported on by the
single-run tools. A trajectory is one job; the campaign keeps no state of its own beyond its
settings: what is done, running or left is read from the trajectory folders, and every trajectory
checkpoints after each control step. Killing a campaign and running it again with ``--resume``
loses at most the unfinished control steps.

Modules: :mod:`~baselines.topdm.jobs` (a trajectory as a job), :mod:`~baselines.topdm.live` (the
live view), :mod:`~baselines.topdm.backends` (where jobs run) and the success table in
:mod:`~baselines.topdm.report`; this module checks the settings, prepares the folders and runs.

Backends:

* **Ray** (the ``distributed`` extra): ``--ray-address auto`` or ``HOST:PORT`` joins a running
  cluster; without an address a local Ray is started on this machine with ``--workers`` workers.
  Each job reserves ``--threads`` CPUs and runs its rollouts on that many threads. A worker that
  dies mid-trajectory (killed, node lost) is rescheduled by Ray (``--max-retries``) and resumes
  from the trajectory's last checkpoint. On a multi-node cluster ``--out`` must be on a file
  system that every node sees (NFS or similar), and dexterous-gym must be installed on every node.
* **In this process** (without Ray, or with ``--local``): the jobs run one after another.

A trajectory's result does not depend on the backend, the worker or the thread count (tested
bitwise), so a campaign may be started on one backend and resumed on another.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import dexterous_gym  # noqa: F401  (registers the env IDs)
from baselines.common.cli import MAX_SEED, MAX_THREADS, UserError, option, parse_config, run_cli
from baselines.common.envs import check_env_id
from baselines.common.runfolder import starting_run
from baselines.common.runtime import configure_rendering
from baselines.topdm.backends import check_ray_cluster, ray_available, run_local, run_ray
from baselines.topdm.config import make_config, parse_overrides
from baselines.topdm.folder import RUN_CONFIG, WORKER_FILE
from baselines.topdm.jobs import Job, JobState, read_job_state, run_job
from baselines.topdm.live import CampaignProgress
from baselines.topdm.report import (
    PAPER_SUCCESS,
    RESULTS_FILE,
    format_table,
    success_table,
    write_results,
)
from baselines.topdm.run import check_resume, dexterous_env, run_folder_config

PROG = "python -m baselines.topdm.campaign"
PresetName = Literal["paper", "paper_k40", "reduced", "demos", "demos_spin", "campaign", "smoke"]
CAMPAIGN_FILE = "config.json"  # OUT/config.json: the campaign's settings


@dataclass(frozen=True)
class CampaignConfig:
    """One ``python -m baselines.topdm.campaign`` invocation."""

    envs: tuple[str, ...] = option(help="dense env IDs, e.g. EggHandOver-v0 BlockHandOver-v0", required=True)  # fmt: skip
    preset: PresetName = option(help="planner settings (see docs/topdm.md)", required=True)
    out: Path = option(help="campaign folder (one run folder per env)", required=True)
    trajectories: int = option(5, help="trajectories per env (seeds seed ... seed+N-1)", minimum=1, maximum=10_000)  # fmt: skip
    seed: int = option(0, help="seed of each env's first trajectory", minimum=0, maximum=MAX_SEED)
    mppi: bool = option(False, help="MPPI at the same simulator budget instead of TOPDM")
    resume: bool = option(False, help="continue the campaign in --out")
    overrides: tuple[str, ...] = option(
        (),
        help="planner settings that differ from the preset, e.g. later_noise_frac=1.0",
        flag="--set",
        metavar="SETTING=VALUE",
    )
    ray_address: str | None = option(
        None, help="'auto' or HOST:PORT of a Ray cluster (none: a local Ray, if Ray is installed)"
    )
    local: bool = option(False, help="run here, one trajectory after another, even with Ray installed")  # fmt: skip
    workers: int | None = option(None, help="concurrent trajectories of a local Ray (default: cores // threads)", minimum=1, maximum=MAX_THREADS)  # fmt: skip
    threads: int = option(1, help="rollout threads (and CPUs reserved) per trajectory", minimum=1, maximum=MAX_THREADS)  # fmt: skip
    max_retries: int = option(3, help="times Ray reschedules a trajectory whose worker died", minimum=0, maximum=100)  # fmt: skip
    refresh: float = option(5.0, help="seconds between updates of the live table", positive=True)
    video: bool = option(True, help="a captioned GIF of each trajectory")

    def __post_init__(self) -> None:
        if len(set(self.envs)) != len(self.envs):
            raise ValueError(f"--envs lists an env twice: {list(self.envs)}")
        if self.local and self.ray_address is not None:
            raise ValueError("--local and --ray-address exclude each other")


def campaign_identity(args: CampaignConfig) -> dict[str, Any]:
    """``OUT/config.json``: the settings that make the campaign's results (not how it runs)."""
    return {
        "campaign": "topdm",
        "envs": list(args.envs),
        "preset": args.preset,
        "trajectories": args.trajectories,
        "seed": args.seed,
        "mppi": args.mppi,
        "overrides": list(args.overrides),
    }


def prepare_campaign(args: CampaignConfig) -> list[Job]:
    """Check everything, create or verify the folders, and return every job of the campaign.

    Refusals (unknown env, bad settings, a folder of another campaign, a damaged or foreign
    trajectory) come before anything is written, and a failed start leaves nothing behind.
    """
    overrides = parse_overrides(args.overrides)
    configs = {}
    for env_id in args.envs:
        check_env_id(env_id, flag="--envs")
        dexterous_env(env_id).close()  # TOPDM needs the state API of a Dexterous Gym env
        configs[env_id] = make_config(args.preset, env_id, **overrides)
    jobs: list[Job] = []
    with starting_run(args.out, campaign_identity(args), args.resume) as out:
        for env_id, config in configs.items():
            env_dir = out / env_id
            run_config = run_folder_config(
                env_id, args.preset, args.seed, args.mppi, args.trajectories, config
            )
            # an env folder of a resumed campaign may not exist yet (interrupted before it)
            with starting_run(env_dir, run_config, (env_dir / RUN_CONFIG).exists()):
                check_resume(env_id, config, env_dir, args.seed, args.trajectories, args.mppi)
            jobs += [
                Job(
                    env_id, i, args.seed + i, env_dir / f"traj_{i:03d}", config.to_dict(), args.mppi
                )
                for i in range(args.trajectories)
            ]
    return jobs


def run_campaign(
    args: CampaignConfig,
    stream: Any = None,
    on_progress: Callable[[CampaignProgress], None] | None = None,
) -> list[dict[str, Any]]:
    """Prepare, run on the chosen backend, and write the success table; returns its rows."""
    use_ray = not args.local and (args.ray_address is not None or ray_available())
    if args.ray_address is not None and not ray_available():
        raise UserError(
            f"--ray-address needs Ray (the 'distributed' extra): pip install "
            f'"dexterous-gym[distributed]"; got --ray-address {args.ray_address}'
        )
    if args.ray_address is not None:
        check_ray_cluster(args.ray_address)  # before the campaign folder is made
    jobs = prepare_campaign(args)
    progress = CampaignProgress(jobs, args.refresh, stream=stream)
    if on_progress is not None:
        on_progress(progress)
    try:
        if use_ray:
            run_ray(progress, args.threads, args.video, args.ray_address, args.workers, args.max_retries)  # fmt: skip
        else:
            run_local(progress, args.threads, args.video)
        progress.refresh()
    finally:
        progress.close()
    rows = success_table(jobs, progress.states)
    write_results(args.out, rows)
    if progress.failed:
        names = ", ".join(f"{j.env_id} seed {j.seed}" for j in progress.failed)
        raise UserError(
            f"{len(progress.failed)} trajectories failed ({names}); see the messages above, fix "
            "their folders and continue with --resume"
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_config(
        CampaignConfig,
        argv,
        PROG,
        description="TOPDM (or MPPI) trajectories over several envs, resumable, here or on Ray.",
    )
    configure_rendering()

    def body() -> int:
        rows = run_campaign(args)
        print(format_table(rows))
        print(f"results in {args.out / (RESULTS_FILE + '.md')}")
        return 0

    return run_cli(PROG, body)


__all__ = [
    "PAPER_SUCCESS",
    "WORKER_FILE",
    "CampaignConfig",
    "CampaignProgress",
    "Job",
    "JobState",
    "format_table",
    "main",
    "prepare_campaign",
    "ray_available",
    "read_job_state",
    "run_campaign",
    "run_job",
    "success_table",
]

if __name__ == "__main__":
    sys.exit(main())
