"""One trajectory folder, ``RUN_DIR/traj_NNN/``: its files, its identity, its reads and writes.

Files: ``checkpoints/`` (the checkpoint store of :mod:`baselines.common.checkpoint`, one
``planner_state.npz`` per checkpoint, written after every completed control step), then, once the
trajectory is finished, ``trajectory.npz``/``.json`` (:mod:`baselines.common.trajectory`),
``summary.json`` and ``video.gif``; ``.worker.json`` names the process that runs it on Ray.

Every data file names the trajectory it belongs to (:class:`TrajectoryIdentity`: a hash of the
env, the planner and its settings, the seed and the index ``NNN``): the planner state, the
trajectory file (in its ``.npz`` and its sidecar) and the summary. Every read checks it, so a file
copied in from another trajectory, seed or campaign is refused with one line naming both
identities and the file, instead of being resumed, tabulated or exported as this one.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from baselines.common.checkpoint import (
    CHECKPOINT_DIR,
    CheckpointError,
    CheckpointStore,
    RunIdentity,
    checkpoint_order,
)
from baselines.common.runfolder import read_json, write_json
from baselines.common.trajectory import (
    IDENTITY_KEY,
    Trajectory,
    describe_identity,
    load_trajectory,
    save_trajectory,
)
from baselines.topdm.config import TopdmConfig

if TYPE_CHECKING:
    from baselines.topdm.planner import PlanResult

PLANNER_STATE = "planner_state.npz"  # the file of each checkpoint
TRAJECTORY_FILE = "trajectory.npz"  # + trajectory.json, its sidecar
SUMMARY_FILE = "summary.json"
VIDEO_FILE = "video.gif"
WORKER_FILE = ".worker.json"  # the process running the trajectory (Ray backend)
RUN_CONFIG = "config.json"  # in the run folder, beside the traj_NNN folders


class ForeignFileError(CheckpointError):
    """A file of a trajectory folder belongs to another trajectory (or names none)."""


@dataclass(frozen=True)
class TrajectoryIdentity:
    """Which trajectory of which run a file belongs to.

    ``config_hash`` covers the env, the planner (TOPDM or MPPI) and all its settings; it is the
    hash the trajectory's checkpoint store checks too (:meth:`checkpoint_identity`).
    """

    config_hash: str
    seed: int
    index: int  # traj_NNN in the run folder

    @classmethod
    def of(cls, env_id: str, config: TopdmConfig, mppi: bool, seed: int, index: int) -> TrajectoryIdentity:  # fmt: skip
        return cls.of_settings(env_id, config.to_dict(), mppi, seed, index)

    @classmethod
    def of_settings(
        cls, env_id: str, planner_config: dict[str, Any], mppi: bool, seed: int, index: int
    ) -> TrajectoryIdentity:
        """From the planner settings as a dict (``TopdmConfig.to_dict()``, or as a run folder's
        ``config.json`` records them: also settings that today's checks refuse can be read)."""
        settings = {"env_id": env_id, "config": planner_config, "mppi": mppi}
        return cls(RunIdentity.of(settings, seed).config_hash, int(seed), int(index))

    @classmethod
    def in_run(cls, run_config: dict[str, Any], index: int) -> TrajectoryIdentity:
        """Trajectory ``index`` of the run whose ``config.json`` is ``run_config``."""
        try:
            return cls.of_settings(str(run_config["env"]), dict(run_config["planner_config"]),
                                   bool(run_config["mppi"]), int(run_config["seed"]) + index, index)  # fmt: skip
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not the config.json of a TOPDM run folder ({type(err).__name__}: {err})") from None  # fmt: skip

    @property
    def checkpoint_identity(self) -> RunIdentity:
        return RunIdentity(self.config_hash, self.seed)

    def as_dict(self) -> dict[str, Any]:
        return {"config_hash": self.config_hash, "seed": self.seed, "trajectory": self.index}

    @classmethod
    def from_dict(cls, data: Any) -> TrajectoryIdentity | None:
        """The identity a file records, or ``None`` if it records none (or a malformed one)."""
        try:
            return cls(str(data["config_hash"]), int(data["seed"]), int(data["trajectory"]))
        except (KeyError, TypeError, ValueError):
            return None

    def __str__(self) -> str:
        return describe_identity(self.as_dict())


def check_identity(
    found: Any, expected: TrajectoryIdentity | None, path: Path, advice: str, required: bool = True
) -> None:
    """Refuse ``path`` unless the identity it records (``found``, as stored) is ``expected``.

    ``expected=None`` (a reader that does not know the run) accepts any identity. A file without
    one was written before files named their trajectory: refused if ``required`` (resuming: nothing
    shows it belongs here), else accepted as it is (reports and exports read such folders).
    """
    if expected is None or TrajectoryIdentity.from_dict(found) == expected:
        return
    if found is None and not required:
        return
    if found is None:
        what = "names no run (written before files named their run and trajectory)"
    else:
        what = f"a file of another run or trajectory ({describe_identity(found)}), copied in"
    raise ForeignFileError(f"{path}: {what}; this folder's is {expected}. Nothing was changed: {advice}")  # fmt: skip


@dataclass
class PlannerState:
    """A trajectory after ``t`` control steps: everything the next step and a resume need."""

    identity: TrajectoryIdentity | None  # None: written before files named their trajectory
    t: int
    states: np.ndarray  # (t + 1, S), get_state() vectors
    actions: np.ndarray  # (t, d)
    rewards: np.ndarray  # (t,)
    success: np.ndarray  # (t,), NaN on envs without success
    best_scores: np.ndarray  # (t,)
    prev_action: np.ndarray  # (d,), carried into the next step's coupling
    prev_means: np.ndarray | None  # the plan's later means, warm-starting the next step
    sim_steps: int
    wall_s: float
    rng: dict[str, Any]  # the random stream's state after step t

    @classmethod
    def start(cls, identity: TrajectoryIdentity, state: np.ndarray, n_actions: int, rng: np.random.Generator) -> PlannerState:  # fmt: skip
        return cls(
            identity=identity,
            t=0,
            states=state[None],
            actions=np.zeros((0, n_actions)),
            rewards=np.zeros(0),
            success=np.zeros(0),
            best_scores=np.zeros(0),
            # per trajectory: the original reset a misspelt attribute, carrying the last action over
            prev_action=np.zeros(n_actions),
            prev_means=None,
            sim_steps=0,
            wall_s=0.0,
            rng=dict(rng.bit_generator.state),
        )

    def advance(self, plan: PlanResult, action: np.ndarray, state: np.ndarray, reward: float,
                success: float, wall_s: float, rng: np.random.Generator) -> PlannerState:  # fmt: skip
        """The state after executing ``action`` (the plan's first), which led to ``state``."""
        return PlannerState(
            identity=self.identity,
            t=self.t + 1,
            states=np.vstack([self.states, state[None]]),
            actions=np.vstack([self.actions, action[None]]),
            rewards=np.append(self.rewards, float(reward)),
            success=np.append(self.success, success),
            best_scores=np.append(self.best_scores, plan.best_score),
            prev_action=action,
            prev_means=plan.best_means[1:].copy(),
            sim_steps=self.sim_steps + plan.sim_steps,
            wall_s=self.wall_s + wall_s,
            rng=dict(rng.bit_generator.state),
        )

    def generator(self) -> np.random.Generator:
        """The random stream, continuing where this state left it."""
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = self.rng
        return rng

    def encode(self) -> bytes:
        """The ``planner_state.npz`` bytes."""
        if self.identity is None:  # only states read from folders of before can lack it
            raise ValueError("a planner state is written with its trajectory's identity")
        arrays: dict[str, Any] = {
            "identity": np.array(json.dumps(self.identity.as_dict(), sort_keys=True)),
            "t": np.int64(self.t),
            "states": self.states,
            "actions": self.actions,
            "rewards": self.rewards,
            "success": self.success,
            "best_scores": self.best_scores,
            "prev_action": self.prev_action,
            "prev_means": np.zeros(0) if self.prev_means is None else self.prev_means,
            "sim_steps": np.int64(self.sim_steps),
            "wall_s": np.float64(self.wall_s),
            "rng": np.array(json.dumps(self.rng)),
        }
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def decode(cls, path: Path, expected: TrajectoryIdentity | None, required: bool = True) -> PlannerState:  # fmt: skip
        """Read ``path`` (a ``planner_state.npz``); it must belong to ``expected`` (see
        :func:`check_identity`). Raises :class:`CheckpointError` naming a damaged or foreign file."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            found = json.loads(str(arrays["identity"])) if "identity" in arrays else None
            prev_means = arrays["prev_means"]
            state = cls(
                identity=TrajectoryIdentity.from_dict(found),
                t=int(arrays["t"]),
                states=arrays["states"],
                actions=arrays["actions"],
                rewards=arrays["rewards"],
                success=arrays["success"],
                best_scores=arrays["best_scores"],
                prev_action=arrays["prev_action"],
                prev_means=None if prev_means.size == 0 else prev_means,
                sim_steps=int(arrays["sim_steps"]),
                wall_s=float(arrays["wall_s"]),
                rng=json.loads(str(arrays["rng"])),
            )
            if state.states.ndim != 2 or state.actions.ndim != 2 or state.t < 0:
                raise ValueError("arrays of the wrong shape")
        except (OSError, ValueError, KeyError, EOFError, TypeError, IndexError, AttributeError, zipfile.BadZipFile) as err:  # fmt: skip
            raise CheckpointError(
                f"{path}: damaged checkpoint ({type(err).__name__}: {err}); restore it, or re-run "
                "this trajectory in another --out folder"
            ) from None
        check_identity(found, expected, path, "re-run this trajectory in another --out folder", required)  # fmt: skip
        return state


@dataclass(frozen=True)
class TrajectoryFolder:
    """``traj_NNN/`` of a run folder: the one place that names, reads and writes its files.

    ``identity`` is what every file read here must belong to; ``None`` (a reader that does not
    know the run) accepts any trajectory's files. With ``require_identity=False`` (reports,
    exports) files that name no trajectory, written before files did, are read as they are;
    resuming requires it.
    """

    path: Path
    identity: TrajectoryIdentity | None
    require_identity: bool = True

    @classmethod
    def in_run(cls, path: Path, require_identity: bool = True) -> TrajectoryFolder:
        """The trajectory folder ``RUN/traj_NNN``, its identity from ``RUN/config.json`` (written
        by ``python -m baselines.topdm`` and campaigns); raises ValueError if that is unreadable."""
        run_config = read_json(path.parent / RUN_CONFIG, expect=dict)
        try:
            index = int(path.name.removeprefix("traj_"))
        except ValueError:
            raise ValueError(f"{path}: not a trajectory folder (traj_NNN)") from None
        identity = TrajectoryIdentity.in_run(run_config, index)
        return cls(path, identity, require_identity)

    @property
    def index(self) -> int | None:
        return None if self.identity is None else self.identity.index

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def trajectory_file(self) -> Path:
        return self.path / TRAJECTORY_FILE

    @property
    def sidecar(self) -> Path:
        return self.trajectory_file.with_suffix(".json")

    @property
    def summary_file(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def video_file(self) -> Path:
        return self.path / VIDEO_FILE

    @property
    def worker_file(self) -> Path:
        return self.path / WORKER_FILE

    def contents(self) -> list[str]:
        """The names of the trajectory's files that exist (what a new run must not overwrite)."""
        return [p.name for p in (self.checkpoints, self.trajectory_file, self.summary_file) if p.exists()]  # fmt: skip

    def store(self) -> CheckpointStore:
        """The trajectory's checkpoint store (``identity`` must be known: it writes)."""
        if self.identity is None:
            raise ValueError(f"{self.path}: writing needs the trajectory's identity")
        return CheckpointStore(self.checkpoints, self.identity.checkpoint_identity)

    def save_progress(self, state: PlannerState) -> None:
        """Checkpoint ``state`` (atomically: a kill leaves the previous checkpoint as the latest)."""
        payload = state.encode()
        self.store().save(state.t, {PLANNER_STATE: lambda handle: handle.write(payload)}, {})

    def progress(self, repair: bool = True) -> PlannerState | None:
        """The latest checkpointed state (``None`` before the first control step).

        ``repair=False`` never writes (a lost pointer is not rebuilt): for reports and for
        watching a trajectory that another thread or process runs. Raises
        :class:`CheckpointError` naming a damaged or foreign file.
        """
        if not self.checkpoints.exists():
            return None
        ident = self.identity.checkpoint_identity if self.identity is not None else _identity_on_disk(self.checkpoints)  # fmt: skip
        ckpt = CheckpointStore(self.checkpoints, ident).latest(repair=repair)
        if ckpt is None:
            return None
        return PlannerState.decode(ckpt.file(PLANNER_STATE), self.identity, self.require_identity)

    def load_trajectory(self, advice: str = "restore it from a copy") -> Trajectory:
        """The finished trajectory; raises :class:`~baselines.common.trajectory.TrajectoryFileError`
        for a damaged file, :class:`ForeignFileError` for one of another trajectory."""
        traj = load_trajectory(self.trajectory_file)
        check_identity(traj.identity, self.identity, self.sidecar, advice, self.require_identity)
        return traj

    def write_trajectory(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        save_trajectory(self.trajectory_file, arrays, meta, identity=self._identity_dict())

    def read_summary(self, advice: str = "restore it from a copy") -> dict[str, Any]:
        """``summary.json``; raises ValueError if damaged, :class:`ForeignFileError` if foreign."""
        summary: dict[str, Any] = read_json(self.summary_file, expect=dict)
        check_identity(summary.get(IDENTITY_KEY), self.identity, self.summary_file, advice, self.require_identity)  # fmt: skip
        return summary

    def write_summary(self, summary: dict[str, Any]) -> dict[str, Any]:
        """Write ``summary.json`` with the trajectory's identity; returns what was written."""
        written = {**summary, IDENTITY_KEY: self._identity_dict()}
        write_json(self.summary_file, written)
        return written

    def _identity_dict(self) -> dict[str, Any]:
        if self.identity is None:
            raise ValueError(f"{self.path}: writing needs the trajectory's identity")
        return self.identity.as_dict()


def _identity_on_disk(root: Path) -> RunIdentity:
    """The identity recorded by the newest checkpoint under ``root`` (for readers that do not
    know the run; the planner state's own identity is then read as it is)."""
    newest_first = sorted(root.glob("step_*/manifest.json"), key=lambda m: checkpoint_order(m.parent.name), reverse=True)  # fmt: skip
    for manifest in newest_first:
        try:
            ident = json.loads(manifest.read_text())["identity"]
            return RunIdentity(str(ident["config_hash"]), int(ident["seed"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return RunIdentity("", -1)
