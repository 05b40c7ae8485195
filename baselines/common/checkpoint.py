"""Crash-safe checkpoints for any algorithm: files, checksums, the run's identity, and resuming.

A checkpoint is a directory ``ROOT/step_<step>/`` holding the algorithm's files (whatever it
writes: an SB3 ``model.zip`` and replay buffer, TOPDM's planner state, torch state dicts ...) and a
``manifest.json`` with

* ``step``:      the algorithm's progress counter (env steps, control steps ...);
* ``identity``:  the run's config hash and seed (:class:`RunIdentity`), so a checkpoint copied in
  from another run or seed is refused;
* ``files``:     the SHA-256 and size of every file, so a damaged or truncated file is named;
* ``state``:     the runner's JSON state (evaluation history, wall time ...).

Order of writes: every file and then the manifest into a hidden ``ROOT/.partial-*`` directory,
which is renamed to a new ``step_*`` name in one step (a checkpoint at a step that already has one
gets a fresh name, ``step_<step>-r1`` ..., so a complete checkpoint is never rewritten in place),
then ``ROOT/latest.json`` pointing at it, and only then older directories of this run are removed.
A process killed (or a disk that fills up) at any moment leaves ``latest.json`` naming a complete
checkpoint (or none yet). If ``latest.json`` is lost, damaged, or older than a complete
checkpoint, :meth:`CheckpointStore.latest` rebuilds it from the newest directory whose manifest and
checksums verify, so nothing that was complete is ever discarded. Directories of another run
(another identity) are never removed.

Usage, for any algorithm::

    store = CheckpointStore(run_dir / "checkpoints", RunIdentity.of(config, seed))
    store.save(step, {"model.pt": lambda f: torch.save(state, f)}, state={"history": ...})
    ckpt = store.latest()          # None for a fresh run; raises CheckpointError when damaged
    torch.load(ckpt.file("model.pt"))
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baselines.common.runfolder import METRICS_FILE, atomic_write, write_json

CHECKPOINT_DIR = "checkpoints"
LATEST_FILE = "latest.json"
MANIFEST_FILE = "manifest.json"
PARTIAL_PREFIX = ".partial-"  # a checkpoint being written: .partial-<pid>-step_<step>
MANIFEST_VERSION = 1

# called with a binary file opened for writing (SB3's save functions take one too)
Writer = Callable[[Any], object]


def checkpoint_order(name: str) -> tuple[int, int]:
    """Where a checkpoint directory ``step_<step>[-r<revision>]`` stands in time: ``(step,
    revision)``, so ``-r10`` comes after ``-r9`` (by name it would not); a name of another form
    comes before every checkpoint."""
    base, _, revision = name.partition("-r")
    try:
        if not base.startswith("step_"):
            raise ValueError(name)
        return int(base[len("step_") :]), int(revision) if revision else 0
    except ValueError:
        return -1, -1


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

    def file(self, name: str) -> Path:
        """The path of one of the checkpoint's files; ``CheckpointError`` if it has none such."""
        if name not in self.files:
            raise CheckpointError(
                f"checkpoint {self.path} has no {name} (it holds {list(self.files)}); resuming "
                "without it would change the run: restore the file, or start a new run in another "
                "--out folder"
            )
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
        for file_name in writers:
            if "/" in file_name or file_name in (MANIFEST_FILE, LATEST_FILE) or file_name.startswith("."):  # fmt: skip
                raise ValueError(f"invalid checkpoint file name {file_name!r}")
        base = f"step_{int(step):010d}"
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_partials()
        partial = self.root / f"{PARTIAL_PREFIX}{os.getpid()}-{base}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        try:
            files: dict[str, dict[str, Any]] = {}
            for file_name, writer in writers.items():
                path = partial / file_name
                atomic_write(path, writer)
                files[file_name] = {"sha256": file_digest(path), "bytes": path.stat().st_size}
            manifest = {
                "manifest_version": MANIFEST_VERSION,
                "step": int(step),
                "identity": self.identity.as_dict(),
                "files": files,
                "state": dict(state),
            }
            write_json(partial / MANIFEST_FILE, manifest)
            # never rewrite a complete checkpoint in place, and never give a new one a name that
            # stands before an existing one of its step (pruning removes step_X before step_X-r1,
            # so reusing the free name step_X would make the newest look the oldest)
            same_step = [checkpoint_order(p.name)[1] for p in self.root.glob(f"{base}*")
                         if checkpoint_order(p.name)[0] == int(step)]  # fmt: skip
            revision = max(same_step, default=-1) + 1
            name = base if revision == 0 else f"{base}-r{revision}"
            os.rename(partial, self.root / name)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        self._point_to(name, int(step))
        self._prune(keep_name=name)
        return self.root / name

    def _remove_partials(self) -> None:
        """Remove the unfinished checkpoints of processes that are gone (killed mid-save)."""
        for path in self.root.glob(f"{PARTIAL_PREFIX}*"):
            try:
                pid = int(path.name[len(PARTIAL_PREFIX) :].split("-", 1)[0])
            except ValueError:
                continue
            alive = pid != os.getpid()
            if alive:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    alive = False
                except PermissionError:
                    pass
            if not alive:
                shutil.rmtree(path, ignore_errors=True)

    def _owned(self, path: Path) -> bool:
        """Whether ``path`` is a checkpoint this store may prune: of this run, or without a manifest
        (the store renames a checkpoint into place only after its manifest is written, so such a
        directory was damaged by hand and holds nothing that can be resumed)."""
        manifest = path / MANIFEST_FILE
        if not manifest.exists():
            return True
        try:
            identity = json.loads(manifest.read_text())["identity"]
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError, OSError):
            return False  # damaged: leave it for the user to inspect
        return bool(identity == self.identity.as_dict())

    def _point_to(self, name: str, step: int) -> None:
        write_json(self.root / LATEST_FILE, {"checkpoint": name, "step": step})

    def _prune(self, keep_name: str) -> None:
        """Remove this run's checkpoint directories older than ``keep_name`` beyond ``keep``
        (never a newer one, nor one of another run)."""
        keep = checkpoint_order(keep_name)
        older = sorted(
            (
                p
                for p in self.root.glob("step_*")
                if p.is_dir() and checkpoint_order(p.name) < keep and self._owned(p)
            ),
            key=lambda p: checkpoint_order(p.name),
        )
        for old in older[: max(0, len(older) - (self.keep - 1))]:
            shutil.rmtree(old, ignore_errors=True)

    # -- reading -----------------------------------------------------------------------------
    def latest(self, repair: bool = True) -> Checkpoint | None:
        """The newest complete checkpoint of this run, verified; ``None`` if there is none.

        Raises :class:`CheckpointError` naming the file when the checkpoint that ``latest.json``
        names is damaged or belongs to another run, or when checkpoint directories exist but none
        of them verifies. A missing or damaged ``latest.json`` is rebuilt from the directories, and
        so is one that names an older checkpoint than a complete one of this run (a process killed
        between the two writes). ``repair=False`` reads without writing (for monitors that watch a
        run another thread or process is writing).
        """
        latest = self.root / LATEST_FILE
        pointer: str | None = None
        if latest.exists():
            try:
                pointer = str(json.loads(latest.read_text())["checkpoint"])
            except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
                pointer = None  # rebuilt below from the directories
            if pointer is not None and ("/" in pointer or not pointer.startswith("step_")):
                pointer = None
        candidates = sorted(
            (p for p in self.root.glob("step_*") if p.is_dir()),
            key=lambda p: checkpoint_order(p.name),
            reverse=True,
        )
        if pointer is not None:
            newer = (p for p in candidates if checkpoint_order(p.name) > checkpoint_order(pointer))  # fmt: skip
            for path in newer:
                with contextlib.suppress(CheckpointError):
                    ckpt = self._verify(path)
                    if repair:
                        self._point_to(path.name, ckpt.step)
                    return ckpt
            return self._verify(self.root / pointer)
        problems = []
        for path in candidates:
            try:
                ckpt = self._verify(path)
            except CheckpointError as err:
                problems.append(str(err))
                continue
            if repair:
                self._point_to(path.name, ckpt.step)
            return ckpt
        if problems:
            raise CheckpointError(
                f"{latest} is missing or damaged and no checkpoint under {self.root} verifies "
                f"({problems[0]}); nothing was changed: restore the damaged files, or start a new run "
                "in another --out folder"
            )
        return None

    def _verify(self, path: Path) -> Checkpoint:
        if not path.is_dir():
            raise CheckpointError(
                f"{self.root / LATEST_FILE} names {path.name}, which does not exist; nothing was "
                f"changed: restore {path}, or remove {LATEST_FILE} to resume from the newest "
                "complete checkpoint that remains"
            )
        manifest_path = path / MANIFEST_FILE
        if not manifest_path.exists():
            raise CheckpointError(f"{manifest_path}: missing, the checkpoint is incomplete")
        try:
            manifest = json.loads(manifest_path.read_text())
            step, files, state = int(manifest["step"]), manifest["files"], manifest["state"]
            identity = manifest["identity"]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
            raise CheckpointError(f"{manifest_path}: damaged ({err})") from None
        if not isinstance(identity, dict):
            raise CheckpointError(f"{manifest_path}: damaged (no identity)")
        if identity != self.identity.as_dict():
            raise CheckpointError(
                f"{path} belongs to another run (seed {identity.get('seed')}, config "
                f"{identity.get('config_hash')}; this run: seed {self.identity.seed}, config "
                f"{self.identity.config_hash}); it was copied in or the settings changed. Nothing "
                "was changed: resume with the run's own settings and checkpoints, or start a new "
                "run in another --out folder"
            )
        if not isinstance(files, dict) or not isinstance(state, dict):
            raise CheckpointError(f"{manifest_path}: damaged (files and state must be objects)")
        for file_name, record in files.items():
            file_path = path / file_name
            if not file_path.exists():
                raise CheckpointError(
                    f"{file_path}: missing from its checkpoint; restore the file, or start a new "
                    "run in another --out folder"
                )
            try:
                expected_size, expected_hash = int(record["bytes"]), str(record["sha256"])
            except (KeyError, TypeError, ValueError):
                raise CheckpointError(f"{manifest_path}: damaged (bad record of {file_name})") from None  # fmt: skip
            if file_path.stat().st_size != expected_size or file_digest(file_path) != expected_hash:
                raise CheckpointError(
                    f"{file_path}: damaged checkpoint file (checksum mismatch); restore it, or "
                    "start a new run in another --out folder"
                )
        return Checkpoint(path=path, step=step, state=state, files=tuple(files))


def pickle_writer(make: Callable[[], Any]) -> Callable[[Any], None]:
    """A checkpoint file writer (for ``CheckpointStore.save``) of the pickle of ``make()``."""

    def write(handle: Any) -> None:
        pickle.dump(make(), handle)

    return write


def restore_pickled(path: Path, restore: Callable[[Any], object]) -> None:
    """Unpickle the checkpoint file ``path`` and hand the object to ``restore``.

    A file that is missing, does not unpickle, or unpickles into something ``restore`` rejects
    raises :class:`CheckpointError` naming the file (unpickling garbage can raise almost
    anything, so every exception counts).
    """
    try:
        with open(path, "rb") as handle:
            saved = pickle.load(handle)
        restore(saved)
    except Exception as err:
        raise CheckpointError(
            f"{path}: damaged ({type(err).__name__}: {err}); restore it, or start a new run in "
            "another --out folder"
        ) from None


def resume_checkpoint(
    store: CheckpointStore, run_dir: Path, resume: bool, checkpoint_freq: int | None = None
) -> Checkpoint | None:
    """The checkpoint a run continues from: ``None`` for a new run (or a resumed one that had not
    written a checkpoint yet), else the newest verified one of ``store``.

    The one resume rule of every baseline: a resumed run that has results (evaluations in
    ``metrics.csv``, ``summary.json``, a final model) but no checkpoint is refused, since starting
    it from step 0 would overwrite them; a damaged or foreign checkpoint is refused by the store.
    One exception, so that a run stopped at or before its first checkpoint (a full disk) continues
    as the advice it printed says: evaluations only, none after ``checkpoint_freq`` steps (the
    first checkpoint's step), are redone from step 0, which reproduces them (the caller rewrites
    ``metrics.csv``).
    Nothing is written before the checks.
    """
    if not resume:
        return None
    ckpt = store.latest()
    if ckpt is not None:
        return ckpt
    results = []
    metrics = run_dir / METRICS_FILE
    if metrics.exists():
        with open(metrics, "rb") as handle:
            lines = [line for line in handle.read().splitlines() if line.strip()]
        if len(lines) > 1 and not _none_after_first_checkpoint(lines[1:], checkpoint_freq):
            results.append(f"evaluations in {METRICS_FILE}")
    results += [name for name in ("summary.json", "final_model.zip") if (run_dir / name).exists()]
    if results:
        raise CheckpointError(
            f"--resume: {run_dir} has results ({', '.join(results)}) but no checkpoint under "
            f"{store.root}; nothing was changed. Restore the checkpoint, or start a new run in "
            "another --out folder"
        )
    return None


def _none_after_first_checkpoint(rows: list[bytes], checkpoint_freq: int | None) -> bool:
    """Whether no metrics row (CSV, ``timesteps`` first) lies after the first checkpoint's step."""
    if checkpoint_freq is None:
        return False
    try:
        return all(int(float(row.split(b",", 1)[0])) <= checkpoint_freq for row in rows)
    except ValueError:  # a damaged row: not evaluations we can vouch for
        return False
