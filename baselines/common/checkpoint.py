"""Crash-safe checkpoints for any algorithm: files, checksums, the run's identity, and resuming.

A checkpoint is a directory ``ROOT/step_<step>/`` holding the algorithm's files (whatever it
writes: an SB3 ``model.zip`` and replay buffer, TOPDM's planner state, torch state dicts ...) and a
``manifest.json`` with

* ``step``:      the algorithm's progress counter (env steps, control steps ...);
* ``identity``:  the run's config hash and seed (:class:`RunIdentity`), so a checkpoint copied in
  from another run or seed is refused;
* ``files``:     the SHA-256 and size of every file, so a damaged or truncated file is named;
* ``state``:     the runner's JSON state (evaluation history, wall time ...).

Order of writes: every file atomically, then the manifest, then ``ROOT/latest.json`` pointing at the
new directory, and only then older directories are removed. A process killed at any moment leaves
``latest.json`` naming a complete checkpoint (or none yet). If ``latest.json`` itself is lost or
damaged, :meth:`CheckpointStore.latest` rebuilds it from the newest directory whose manifest and
checksums verify, so nothing that was complete is ever discarded.

Usage, for any algorithm::

    store = CheckpointStore(run_dir / "checkpoints", RunIdentity.of(config, seed))
    store.save(step, {"model.pt": lambda f: torch.save(state, f)}, state={"history": ...})
    ckpt = store.latest()          # None for a fresh run; raises CheckpointError when damaged
    torch.load(ckpt.file("model.pt"))
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baselines.common.runfolder import atomic_write, write_json

CHECKPOINT_DIR = "checkpoints"
LATEST_FILE = "latest.json"
MANIFEST_FILE = "manifest.json"
LEGACY_STATE_FILE = "state.json"  # checkpoints written before manifests existed
MANIFEST_VERSION = 1

# called with a binary file opened for writing (SB3's save functions take one too)
Writer = Callable[[Any], object]


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, incomplete, or belongs to another run."""


def config_hash(config: Mapping[str, Any], ignore: Sequence[str] = ()) -> str:
    """SHA-256 (first 16 hex digits) of ``config`` as canonical JSON, without the ``ignore`` keys."""
    kept = {k: v for k, v in config.items() if k not in set(ignore)}
    text = json.dumps(kept, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunIdentity:
    """What makes a checkpoint belong to one run: its settings and its seed."""

    config_hash: str
    seed: int

    @classmethod
    def of(cls, config: Mapping[str, Any], seed: int, ignore: Sequence[str] = ()) -> RunIdentity:
        return cls(config_hash(config, ignore), int(seed))

    def as_dict(self) -> dict[str, Any]:
        return {"config_hash": self.config_hash, "seed": self.seed}


def file_digest(path: Path) -> str:
    """SHA-256 of a file's contents."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint on disk."""

    path: Path
    step: int
    state: dict[str, Any]
    files: tuple[str, ...]

    @property
    def num_timesteps(self) -> int:
        return self.step

    def file(self, name: str) -> Path:
        """The path of one of the checkpoint's files; ``CheckpointError`` if it has none such."""
        if name not in self.files:
            raise CheckpointError(f"checkpoint {self.path} has no {name} (it holds {list(self.files)})")  # fmt: skip
        return self.path / name

    def has(self, name: str) -> bool:
        return name in self.files


class CheckpointStore:
    """The checkpoints of one run (or one trajectory) under ``root``."""

    def __init__(self, root: str | Path, identity: RunIdentity, keep: int = 1) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.root = Path(root)
        self.identity = identity
        self.keep = keep

    # -- writing -----------------------------------------------------------------------------
    def save(self, step: int, writers: Mapping[str, Writer], state: Mapping[str, Any]) -> Path:
        """Write one checkpoint at ``step`` and make it the latest; returns its directory."""
        if not writers:
            raise ValueError("a checkpoint needs at least one file")
        name = f"step_{int(step):010d}"
        ckpt = self.root / name
        ckpt.mkdir(parents=True, exist_ok=True)
        files: dict[str, dict[str, Any]] = {}
        for file_name, writer in writers.items():
            if "/" in file_name or file_name in (MANIFEST_FILE, LATEST_FILE):
                raise ValueError(f"invalid checkpoint file name {file_name!r}")
            atomic_write(ckpt / file_name, writer)
            path = ckpt / file_name
            files[file_name] = {"sha256": file_digest(path), "bytes": path.stat().st_size}
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "step": int(step),
            "identity": self.identity.as_dict(),
            "files": files,
            "state": dict(state),
        }
        write_json(ckpt / MANIFEST_FILE, manifest)
        self._point_to(name, int(step))
        self._prune(keep_name=name)
        return ckpt

    def _point_to(self, name: str, step: int) -> None:
        # "num_timesteps" is what readers of run folders written before the store look for
        write_json(self.root / LATEST_FILE, {"checkpoint": name, "step": step, "num_timesteps": step})  # fmt: skip

    def _prune(self, keep_name: str) -> None:
        """Remove older checkpoint directories beyond ``keep`` (never the latest one)."""
        older = sorted(p for p in self.root.glob("step_*") if p.is_dir() and p.name != keep_name)
        for old in older[: max(0, len(older) - (self.keep - 1))]:
            shutil.rmtree(old, ignore_errors=True)

    # -- reading -----------------------------------------------------------------------------
    def latest(self) -> Checkpoint | None:
        """The newest complete checkpoint of this run, verified; ``None`` if there is none.

        Raises :class:`CheckpointError` naming the file when the checkpoint that ``latest.json``
        names is damaged or belongs to another run, or when checkpoint directories exist but none
        of them verifies. A missing or damaged ``latest.json`` is rebuilt from the directories.
        """
        latest = self.root / LATEST_FILE
        pointer: str | None = None
        if latest.exists():
            try:
                pointer = str(json.loads(latest.read_text())["checkpoint"])
            except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
                pointer = None  # rebuilt below from the directories
        if pointer is not None:
            return self._verify(self.root / pointer)
        candidates = sorted((p for p in self.root.glob("step_*") if p.is_dir()), reverse=True)
        problems = []
        for path in candidates:
            try:
                ckpt = self._verify(path)
            except CheckpointError as err:
                problems.append(str(err))
                continue
            self._point_to(path.name, ckpt.step)
            return ckpt
        if problems:
            raise CheckpointError(
                f"{latest} is missing or damaged and no checkpoint under {self.root} verifies "
                f"({problems[0]}); nothing was changed: restore the files, or resume into a copy"
            )
        return None

    def _verify(self, path: Path) -> Checkpoint:
        if not path.is_dir():
            raise CheckpointError(f"{self.root / LATEST_FILE} names {path.name}, which does not exist")  # fmt: skip
        manifest_path = path / MANIFEST_FILE
        if not manifest_path.exists():
            if (path / LEGACY_STATE_FILE).exists():
                return self._legacy(path)
            raise CheckpointError(f"{manifest_path}: missing, the checkpoint is incomplete")
        try:
            manifest = json.loads(manifest_path.read_text())
            step, files, state = int(manifest["step"]), manifest["files"], manifest["state"]
            identity = manifest["identity"]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
            raise CheckpointError(f"{manifest_path}: damaged ({err})") from None
        if identity != self.identity.as_dict():
            raise CheckpointError(
                f"{path} belongs to another run (seed {identity.get('seed')}, config "
                f"{identity.get('config_hash')}; this run: seed {self.identity.seed}, config "
                f"{self.identity.config_hash}); it was copied in or the settings changed"
            )
        for file_name, record in files.items():
            file_path = path / file_name
            if not file_path.exists():
                raise CheckpointError(f"{file_path}: missing from its checkpoint")
            if file_path.stat().st_size != record["bytes"] or file_digest(file_path) != record["sha256"]:  # fmt: skip
                raise CheckpointError(f"{file_path}: damaged checkpoint file (checksum mismatch)")
        return Checkpoint(path=path, step=step, state=state, files=tuple(files))

    def _legacy(self, path: Path) -> Checkpoint:
        """A checkpoint written before manifests: no checksums or identity to verify."""
        try:
            state = json.loads((path / LEGACY_STATE_FILE).read_text())
            step = int(state["num_timesteps"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{path / LEGACY_STATE_FILE}: damaged ({err})") from None
        files = tuple(sorted(p.name for p in path.iterdir() if p.is_file()))
        return Checkpoint(path=path, step=step, state=state, files=files)
