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

import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from baselines.common.cli import MAX_SEED, MAX_THREADS, UserError, option, parse_config, run_cli
from baselines.topdm.config import (
    TopdmConfig,
    iterations_at,
    make_config,
    parse_overrides,
    planner_name,
    simulated_steps,
)

PROG = "python -m baselines.topdm.campaign"
PresetName = Literal["paper", "paper_k40", "reduced", "demos", "demos_spin", "campaign", "smoke"]
CAMPAIGN_FILE = "config.json"  # OUT/config.json: the campaign's settings
WORKER_FILE = ".worker.json"  # in a trajectory folder: the process running it (Ray backend)
RESULTS_FILE = "results"  # OUT/results.md and OUT/results.json: the success table

# TOPDM success counts of the original code's committed trajectory sets (SCDM,
# prerun_trajectories/, 2020-09-14): very likely those behind the ICML 2021 paper's TOPDM success
# rates, at the paper preset. PenReorientation-v0 is the stock one-hand pen task in SCDM's form
# (HandManipulatePenFull in the original set).
PAPER_SUCCESS: dict[str, tuple[int, int]] = {
    "EggHandOver-v0": (53, 54),
    "BlockHandOver-v0": (50, 50),
    "PenHandOver-v0": (43, 50),
    "EggCatchUnderarm-v0": (64, 66),
    "EggCatchOverarm-v0": (48, 50),
    "TwoEggCatchUnderArm-v0": (19, 30),
    "PenReorientation-v0": (89, 107),
}


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


@dataclass(frozen=True, eq=False)  # one object per trajectory: compared and hashed by identity
class Job:
    """One trajectory of a campaign: where it lives and everything that determines it."""

    env_id: str
    index: int  # traj_NNN within the env's run folder
    seed: int
    folder: Path
    planner_config: dict[str, Any]
    mppi: bool

    @property
    def config(self) -> TopdmConfig:
        return TopdmConfig.from_dict(self.planner_config)

    @property
    def cost(self) -> int:
        """Env steps the whole trajectory simulates."""
        return simulated_steps(self.config)

    def cost_done(self, control_steps: int) -> int:
        """Env steps simulated by the first ``control_steps`` control steps."""
        c = self.config
        done = sum(iterations_at(t, c.k0, c.traj_len, c.anneal) for t in range(control_steps))
        return done * c.n_samples * c.horizon


@dataclass
class JobState:
    """What a job's folder says: control steps done, and the summary once finished."""

    steps: int = 0
    summary: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.summary is not None


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
    import dexterous_gym  # noqa: F401  (registers the IDs)
    from baselines.common.envs import check_env_id
    from baselines.common.runfolder import starting_run
    from baselines.topdm.run import check_resume, dexterous_env, run_folder_config

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
            with starting_run(env_dir, run_config, (env_dir / "config.json").exists()):
                check_resume(env_id, config, env_dir, args.seed, args.trajectories, args.mppi)
            jobs += [
                Job(
                    env_id, i, args.seed + i, env_dir / f"traj_{i:03d}", config.to_dict(), args.mppi
                )
                for i in range(args.trajectories)
            ]
    return jobs


def read_job_state(job: Job) -> JobState:
    """The job's progress as its folder records it, read without writing anything (the job may
    be running in another thread or process); a damaged file raises CheckpointError."""
    from baselines.common.runfolder import read_json
    from baselines.topdm.run import SUMMARY_FILE, read_progress, trajectory_identity

    summary_path = job.folder / SUMMARY_FILE
    if summary_path.exists():
        summary = read_json(summary_path, expect=dict)
        return JobState(job.config.traj_len, summary)
    identity = trajectory_identity(job.env_id, job.config, job.seed, job.mppi)
    progress = read_progress(job.folder, identity, repair=False) if job.folder.exists() else None
    return JobState(0 if progress is None else int(progress["t"]))


def run_job(job: Job, threads: int, video: bool) -> dict[str, Any]:
    """Run (or continue) one trajectory to its end; returns its summary.

    Always resumes: a fresh folder starts at step 0, an interrupted one continues from its last
    checkpoint, a finished one returns its summary.
    """
    from baselines.topdm.run import run_trajectory

    return run_trajectory(
        job.env_id,
        job.config,
        job.seed,
        job.folder,
        mppi=job.mppi,
        resume=True,
        n_threads=threads,
        video=video,
        progress_bar=False,
    )


def _ray_job(job: Job, threads: int, video: bool) -> dict[str, Any]:
    """The body of a Ray task: records which process runs the trajectory, then runs it."""
    from baselines.common.runfolder import write_json
    from baselines.common.runtime import configure_rendering

    configure_rendering()
    job.folder.mkdir(parents=True, exist_ok=True)
    write_json(
        job.folder / WORKER_FILE,
        {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()},
    )
    return run_job(job, threads, video)


# --- the live table --------------------------------------------------------------------------


class Progress:
    """The live view: a bar in simulated env steps (so its ETA weighs the costly early control
    steps correctly) and a per-env table, both read from the trajectory folders."""

    def __init__(self, jobs: Sequence[Job], refresh_s: float = 5.0, stream: Any = None) -> None:
        from tqdm import tqdm

        self.jobs = list(jobs)
        self.refresh_s = refresh_s
        self._stream = stream if stream is not None else sys.stderr
        self.states = {job: JobState() for job in self.jobs}
        self.running: set[Job] = set()
        self.queued: set[Job] = set()  # submitted to Ray, maybe not yet picked up by a worker
        self.failed: dict[Job, str] = {}
        self._wall_start = time.time()
        self._lock = threading.Lock()
        self.poll()
        done = sum(self._cost_done(job) for job in self.jobs)
        self._start_done = done
        self._started = time.perf_counter()
        self.bar = tqdm(
            total=sum(job.cost for job in self.jobs),
            initial=done,
            unit=" env steps",
            unit_scale=True,
            desc="campaign",
            file=stream,
            dynamic_ncols=True,
        )
        self._shown = done

    def _cost_done(self, job: Job) -> int:
        state = self.states[job]
        return job.cost if state.finished else job.cost_done(state.steps)

    def poll(self) -> None:
        """Re-read the folders of the unfinished jobs (damaged files are the job's to report)."""
        from baselines.common.checkpoint import CheckpointError

        with self._lock:
            for job in self.jobs:
                if self.states[job].finished:
                    continue
                with contextlib.suppress(CheckpointError, ValueError, OSError):
                    self.states[job] = read_job_state(job)
                worker = job.folder / WORKER_FILE
                if job in self.queued and worker.exists() and worker.stat().st_mtime >= self._wall_start:  # fmt: skip
                    self.running.add(job)

    def finish(self, job: Job, summary: dict[str, Any]) -> None:
        with self._lock:
            self.states[job] = JobState(job.config.traj_len, summary)
            self.running.discard(job)
            self.queued.discard(job)
        self.refresh(table=True)

    def fail(self, job: Job, message: str) -> None:
        with self._lock:
            self.failed[job] = message
            self.running.discard(job)
            self.queued.discard(job)
        self.bar.write(f"{job.env_id} seed {job.seed}: failed: {message}", file=self._stream)

    def refresh(self, table: bool = False) -> None:
        self.poll()
        done = sum(self._cost_done(job) for job in self.jobs)
        self.bar.update(done - self._shown)
        self._shown = done
        n_done = sum(s.finished for s in self.states.values())
        hits = [bool(s.summary.get("success_final")) for s in self.states.values() if s.summary]
        self.bar.set_postfix_str(
            f"done {n_done}/{len(self.jobs)}, running {len(self.running)}, "
            f"success {sum(hits)}/{len(hits)}"
        )
        if table:
            self.bar.write(self.table(), file=self._stream)

    def table(self) -> str:
        """done / running / success so far / ETA, one line per env."""
        elapsed = time.perf_counter() - self._started
        rate = (self._shown - self._start_done) / elapsed if elapsed > 0 else 0.0
        lines = [f"{'env':<26} {'done':>7} {'running':>7} {'success':>8} {'ETA':>9}"]
        for env_id in dict.fromkeys(job.env_id for job in self.jobs):
            jobs = [job for job in self.jobs if job.env_id == env_id]
            states = [self.states[job] for job in jobs]
            finished = [s for s in states if s.summary is not None]
            hits = sum(bool(s.summary and s.summary.get("success_final")) for s in finished)
            left = sum(job.cost - self._cost_done(job) for job in jobs)
            eta = "-" if left == 0 else (_duration(left / rate) if rate > 0 else "?")
            running = sum(job in self.running for job in jobs)
            lines.append(
                f"{env_id:<26} {len(finished):>3}/{len(jobs):<3} {running:>7} "
                f"{f'{hits}/{len(finished)}':>8} {eta:>9}"
            )
        return "\n".join(lines)

    def close(self) -> None:
        self.bar.close()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --- backends --------------------------------------------------------------------------------


def run_local(jobs: Sequence[Job], progress: Progress, threads: int, video: bool) -> None:
    """Every unfinished job in this process, one after another; a monitor thread keeps the live
    view current while a trajectory runs."""
    stop = threading.Event()

    def monitor() -> None:
        while not stop.wait(progress.refresh_s):
            progress.refresh()

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    try:
        for job in jobs:
            if progress.states[job].finished:
                continue
            progress.running = {job}
            progress.finish(job, run_job(job, threads, video))
    finally:
        stop.set()
        watcher.join()


def run_ray(
    jobs: Sequence[Job],
    progress: Progress,
    threads: int,
    video: bool,
    address: str | None,
    workers: int | None,
    max_retries: int,
) -> None:
    """Every unfinished job as a Ray task reserving ``threads`` CPUs; Ray reschedules a task whose
    worker died, and the rescheduled task resumes the trajectory from its last checkpoint."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        if address is None:
            cpus = (workers or max(1, (os.cpu_count() or 1) // threads)) * threads
            # Ray runs its workers at nice 15, below everything else on the machine; a local
            # campaign is the user's main job, as it is with --local (measured: a 1-CPU worker
            # next to two busy processes simulated 13-19 env steps/s at nice 15, 190-230 at 0)
            os.environ.setdefault("RAY_worker_niceness", "0")
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=True)
        else:
            ray.init(address=address, log_to_driver=True)
    pending: dict[Any, Job] = {}
    try:
        remote = ray.remote(num_cpus=threads, max_retries=max_retries)(_ray_job)
        for job in jobs:
            if not progress.states[job].finished:
                pending[remote.remote(job, threads, video)] = job
        progress.queued = set(pending.values())  # running once a worker has picked them up
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=progress.refresh_s)
            for ref in ready:
                job = pending.pop(ref)
                try:
                    progress.finish(job, ray.get(ref))
                except ray.exceptions.RayTaskError as err:  # raised by the trajectory itself
                    cause = err.cause if isinstance(err.cause, Exception) else err
                    progress.fail(job, f"{type(cause).__name__}: {cause}")
                except ray.exceptions.RayError as err:  # retries exhausted, node lost ...
                    progress.fail(job, f"{type(err).__name__}: {err}")
            if not ready:
                progress.refresh()
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()


def ray_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


# --- the success table -----------------------------------------------------------------------


def final_distances(jobs: Sequence[Job]) -> tuple[float, float] | None:
    """Median over the finished trajectories of the distances left at the last step: position
    (m) and rotation (rad), the worse object's for two objects; how far from success a task
    stayed. ``None`` for envs without a goal or without finished trajectories."""
    import numpy as np

    from baselines.common.trajectory import load_trajectory
    from baselines.topdm.run import TRAJECTORY_FILE, dexterous_env

    files = [job.folder / TRAJECTORY_FILE for job in jobs if (job.folder / TRAJECTORY_FILE).exists()]  # fmt: skip
    if not files:
        return None
    env = dexterous_env(jobs[0].env_id)
    try:
        if not env.has_goal:
            return None
        d_pos, d_rot = [], []
        for path in files:
            env.set_state(load_trajectory(path).states[-1])
            terms = env.evaluate(env.data.qpos, env.data.qvel, env.goal).terms
            d_pos.append(max(float(v) for k, v in terms.items() if k.startswith("d_pos")))
            d_rot.append(max(float(v) for k, v in terms.items() if k.startswith("d_rot")))
        return float(np.median(d_pos)), float(np.median(d_rot))
    finally:
        env.close()


def success_table(jobs: Sequence[Job], states: dict[Job, JobState]) -> list[dict[str, Any]]:
    """One row per env: success at the final step with a 95 % Wilson interval, success at any
    step, returns, the distances left at the last step, and the budget beside the paper's."""
    import numpy as np
    from scipy.stats import binomtest

    rows = []
    for env_id in dict.fromkeys(job.env_id for job in jobs):
        env_jobs = [job for job in jobs if job.env_id == env_id]
        summaries: list[dict[str, Any]] = [
            s for s in (states[j].summary for j in env_jobs) if s is not None
        ]
        returns = np.array([float(s["return"]) for s in summaries])
        finals = [s.get("success_final") for s in summaries]
        has_success = bool(finals) and all(f is not None for f in finals)
        k, n = (sum(map(bool, finals)), len(finals)) if has_success else (0, 0)
        ci = binomtest(k, n).proportion_ci(0.95, method="wilson") if n else None
        any_hits = sum(bool(s.get("success_any")) for s in summaries) if has_success else None
        distances = final_distances([j for j in env_jobs if states[j].summary is not None])
        budget = env_jobs[0].cost
        paper = simulated_steps(make_config("paper", env_id))
        rows.append(
            {
                "env_id": env_id,
                "planner": planner_name(env_jobs[0].mppi),
                "finished": len(summaries),
                "trajectories": len(env_jobs),
                "successes": k if has_success else None,
                "success_rate": k / n if n else None,
                "ci95": [float(ci.low), float(ci.high)] if ci is not None else None,
                "success_any": any_hits,
                "mean_return": float(returns.mean()) if returns.size else None,
                "sd_return": float(returns.std(ddof=1)) if returns.size > 1 else None,
                "final_d_pos_median": distances[0] if distances else None,
                "final_d_rot_median": distances[1] if distances else None,
                "env_steps_per_trajectory": budget,
                "paper_env_steps_per_trajectory": paper,
                "budget_fraction": budget / paper,
                "paper_success": PAPER_SUCCESS.get(env_id),
                "wall_s": sum(float(s.get("wall_s", 0.0)) for s in summaries),
            }
        )
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The success table as Markdown."""
    head = (
        "| env | planner | trajectories | success (final step) | 95 % CI (Wilson) | success (any step) "
        "| mean return (sd) | left at the last step: d_pos, d_rot (median) "
        "| env steps / trajectory | of the paper's | paper (TOPDM) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        n = f"{r['finished']}/{r['trajectories']}"
        if r["success_rate"] is None:
            rate = ci = anyhit = "n/a (no success)"
        else:
            rate = f"{r['successes']}/{r['finished']} = {r['success_rate']:.2f}"
            ci = f"[{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]"
            anyhit = f"{r['success_any']}/{r['finished']}"
        ret = "-" if r["mean_return"] is None else f"{r['mean_return']:.2f}"
        if r["sd_return"] is not None:
            ret += f" ({r['sd_return']:.2f})"
        left = "-"
        if r["final_d_pos_median"] is not None:
            left = f"{100 * r['final_d_pos_median']:.1f} cm, {r['final_d_rot_median']:.2f} rad"
        paper = r["paper_success"]
        paper_text = f"{paper[0]}/{paper[1]} = {paper[0] / paper[1]:.2f}" if paper else "-"
        lines.append(
            f"| {r['env_id']} | {r['planner']} | {n} | {rate} | {ci} | {anyhit} | {ret} | {left} "
            f"| {_steps(r['env_steps_per_trajectory'])} | {100 * r['budget_fraction']:.2g} % "
            f"| {paper_text} |"
        )
    return "\n".join(lines)


def _steps(n: int) -> str:
    return f"{n / 1e6:.3g} M" if n >= 1e6 else f"{n / 1e3:.3g} k"


def write_results(out: Path, rows: Sequence[dict[str, Any]]) -> str:
    """``OUT/results.md`` and ``OUT/results.json`` (atomically); returns the Markdown."""
    from baselines.common.runfolder import atomic_write, write_json

    text = format_table(rows) + "\n"
    atomic_write(out / f"{RESULTS_FILE}.md", lambda handle: handle.write(text.encode()))
    write_json(out / f"{RESULTS_FILE}.json", list(rows))
    return text


# --- entry points ----------------------------------------------------------------------------


def check_ray_cluster(address: str) -> None:
    """Raise :class:`UserError` if no Ray cluster answers at ``address`` (e.g. ``auto``)."""
    import ray

    if ray.is_initialized():
        return
    try:
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"--ray-address {address}: no Ray cluster found ({first}); start one (ray start "
            "--head) or leave out --ray-address for a local Ray"
        ) from None
    ray.shutdown()


def run_campaign(
    args: CampaignConfig, stream: Any = None, on_progress: Callable[[Progress], None] | None = None
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
    progress = Progress(jobs, args.refresh, stream=stream)
    if on_progress is not None:
        on_progress(progress)
    try:
        if use_ray:
            run_ray(jobs, progress, args.threads, args.video, args.ray_address, args.workers, args.max_retries)  # fmt: skip
        else:
            run_local(jobs, progress, args.threads, args.video)
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
    from baselines.common.runtime import configure_rendering

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
    "CampaignConfig",
    "Job",
    "JobState",
    "format_table",
    "main",
    "prepare_campaign",
    "read_job_state",
    "run_campaign",
    "run_job",
    "success_table",
]

if __name__ == "__main__":
    sys.exit(main())
