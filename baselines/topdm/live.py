"""The live view of a campaign: a progress bar in simulated env steps and a per-env table, both
read from the trajectory folders; the backends report to it through its methods."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from tqdm import tqdm

from baselines.common.checkpoint import CheckpointError
from baselines.topdm.jobs import Job, JobState, read_job_state


class CampaignProgress:
    """The live view: a bar in simulated env steps (so its ETA weighs the costly early control
    steps correctly) and a per-env table, both read from the trajectory folders."""

    def __init__(self, jobs: Sequence[Job], refresh_s: float = 5.0, stream: Any = None) -> None:
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

    def unfinished(self) -> list[Job]:
        """The jobs whose folders do not yet hold a finished trajectory, in order."""
        with self._lock:
            return [job for job in self.jobs if not self.states[job].finished]

    def mark_queued(self, jobs: Sequence[Job]) -> None:
        """``jobs`` were submitted to workers: each counts as running once its worker has
        written the folder's worker file."""
        with self._lock:
            self.queued = set(jobs)

    def mark_running(self, job: Job) -> None:
        """``job`` runs now (and no other: the in-process backend runs one at a time)."""
        with self._lock:
            self.running = {job}

    def poll(self) -> None:
        """Re-read the folders of the unfinished jobs (damaged files are the job's to report)."""
        with self._lock:
            for job in self.jobs:
                if self.states[job].finished:
                    continue
                with contextlib.suppress(CheckpointError, ValueError, OSError):
                    self.states[job] = read_job_state(job)
                worker = job.trajectory_folder.worker_file
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
