"""Where a campaign's jobs run: in this process, one after another, or as Ray tasks.

Both report to the live view (:class:`~baselines.topdm.live.CampaignProgress`) through its
methods; a trajectory's result depends on neither (tested bitwise).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
from typing import Any

from baselines.common.cli import UserError
from baselines.common.runfolder import write_json
from baselines.common.runtime import configure_rendering
from baselines.topdm.jobs import Job, run_job
from baselines.topdm.live import CampaignProgress


def run_local(progress: CampaignProgress, threads: int, video: bool) -> None:
    """Every unfinished job of ``progress`` in this process, one after another; a monitor thread keeps the live
    view current while a trajectory runs."""
    stop = threading.Event()

    def monitor() -> None:
        while not stop.wait(progress.refresh_s):
            progress.refresh()

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    try:
        for job in progress.unfinished():
            progress.mark_running(job)
            progress.finish(job, run_job(job, threads, video))
    finally:
        stop.set()
        watcher.join()


def _ray_job(job: Job, threads: int, video: bool) -> dict[str, Any]:
    """The body of a Ray task: records which process runs the trajectory, then runs it."""
    configure_rendering()
    job.folder.mkdir(parents=True, exist_ok=True)
    write_json(
        job.trajectory_folder.worker_file,
        {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()},
    )
    return run_job(job, threads, video)


def run_ray(
    progress: CampaignProgress,
    threads: int,
    video: bool,
    address: str | None,
    workers: int | None,
    max_retries: int,
) -> None:
    """Every unfinished job of ``progress`` as a Ray task reserving ``threads`` CPUs; Ray reschedules a task whose
    worker died, and the rescheduled task resumes the trajectory from its last checkpoint."""
    import ray  # the optional 'distributed' extra

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
        for job in progress.unfinished():
            pending[remote.remote(job, threads, video)] = job
        progress.mark_queued(list(pending.values()))  # running once a worker has picked them up
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
    return importlib.util.find_spec("ray") is not None


def check_ray_cluster(address: str) -> None:
    """Raise :class:`UserError` if no Ray cluster answers at ``address`` (e.g. ``auto``)."""
    import ray  # the optional 'distributed' extra

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
