"""A campaign's jobs: one trajectory each, its folder and what that folder says about it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baselines.topdm.config import TopdmConfig, iterations_at, simulated_steps
from baselines.topdm.folder import TrajectoryFolder, TrajectoryIdentity
from baselines.topdm.run import run_trajectory


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
    def identity(self) -> TrajectoryIdentity:
        return TrajectoryIdentity.of(self.env_id, self.config, self.mppi, self.seed, self.index)

    @property
    def trajectory_folder(self) -> TrajectoryFolder:
        return TrajectoryFolder(self.folder, self.identity)

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


def read_job_state(job: Job) -> JobState:
    """The job's progress as its folder records it, read without writing anything (the job may
    be running in another thread or process); a damaged or foreign file raises CheckpointError
    (or ValueError)."""
    folder = job.trajectory_folder
    if folder.summary_file.exists():
        return JobState(job.config.traj_len, folder.read_summary())
    progress = folder.progress(repair=False)
    return JobState(0 if progress is None else progress.t)


def run_job(job: Job, threads: int, video: bool) -> dict[str, Any]:
    """Run (or continue) one trajectory to its end; returns its summary.

    Always resumes: a fresh folder starts at step 0, an interrupted one continues from its last
    checkpoint, a finished one returns its summary.
    """
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
        index=job.index,
    )
