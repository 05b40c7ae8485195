"""Run folders: config, versions, metrics CSV, and atomic file writes.

Every baseline CLI writes one folder per run::

    RUN_DIR/
      config.json       the arguments the run was started with (checked on --resume)
      versions.json     python, package, torch, MuJoCo and gymnasium versions, git commit
      metrics.csv       one row per evaluation (what the plotting command reads)
      logs/             Stable-Baselines3 logger output: progress*.csv and TensorBoard events
      checkpoints/      see :mod:`baselines.common.checkpoint`
      final_model.zip, summary.json, videos/ ...

Files that a crash must not corrupt are written with :func:`atomic_write`: the data goes to a
temporary file in the same directory, is flushed to disk, and then ``os.replace`` moves it over the
target in one step, so readers see either the old or the new file, never half of one.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from dexterous_gym.provenance import environment_versions

CONFIG_FILE = "config.json"
VERSIONS_FILE = "versions.json"
METRICS_FILE = "metrics.csv"

# The one metrics schema: a row per evaluation, written by every learning baseline and read by
# ``python -m baselines.plot``. Success columns are NaN on envs without success (PenSpin).
METRICS_FIELDS = (
    "timesteps",  # env steps of training when the evaluation was made (wasted steps included)
    "success_final",  # fraction of episodes with is_success at the last step (HER's metric)
    "success_any",  # fraction with is_success at any step (PlanGAN's metric)
    "mean_return",  # mean undiscounted episode return
    "std_return",
    "mean_length",
    "n_episodes",
    "train_success_rate",  # recent training episodes' success, NaN where not tracked
    "wall_time_s",  # wall time of the run so far, over all its sessions
)

# Distributions whose versions decide whether a result can be reproduced.
_PACKAGES = (
    "dexterous-gym",
    "gymnasium",
    "numba",
    "gymnasium-robotics",
    "mujoco",
    "numpy",
    "torch",
    "stable-baselines3",
    "sb3-contrib",
)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; on success move it over ``path``.

    If the body raises, the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # unique per process and thread: two writers of one file never share a temporary
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        with open(tmp, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(path: str | os.PathLike[str], writer: Callable[[Any], object]) -> None:
    """Call ``writer(binary_file)`` and atomically install the result at ``path``.

    Works with anything that accepts an open binary file, e.g. ``model.save`` and
    ``model.save_replay_buffer`` of Stable-Baselines3.
    """
    path = Path(path)
    # unique per process and thread: two writers of one file never share a temporary
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # SB3's save helpers close the handle they are given, so fsync through a second descriptor.
        with open(tmp, "wb") as handle:
            writer(handle)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_open(path, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")


def read_json(path: str | os.PathLike[str], expect: type | None = None) -> Any:
    """Read a JSON file, naming the file in the error if it is damaged (or, with ``expect``, if
    it does not hold a JSON value of that type, e.g. ``dict``)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path} is damaged (not valid JSON: {err}); restore it from a copy"
        ) from None
    if expect is not None and not isinstance(data, expect):
        raise ValueError(
            f"{path} is damaged (expected a JSON {expect.__name__}, got {type(data).__name__}); "
            "restore it from a copy"
        )
    return data


def git_commit(repo_dir: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """Return ``{"commit": sha, "dirty": bool}`` for the checkout holding this code, if any."""
    cwd = Path(repo_dir) if repo_dir else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
        if sha.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": sha.stdout.strip(), "dirty": bool(status.stdout.strip())}


def collect_versions() -> dict[str, Any]:
    """Versions of python, the key packages, torch's build and the git commit."""
    info: dict[str, Any] = {**environment_versions(_PACKAGES), "git": git_commit()}
    try:
        import torch  # optional here: run folders of runners without torch record none

        info["torch"] = {
            "version": torch.__version__,
            "cuda": torch.version.cuda,
            "num_threads": torch.get_num_threads(),
        }
    except ImportError:
        pass
    return info


def append_csv_row(path: str | os.PathLike[str], row: Mapping[str, Any]) -> None:
    """Append ``row`` to a CSV file, writing the header first if the file is new.

    An existing file keeps its column order; keys it has no column for are an error.
    """
    path = Path(path)
    new = not path.exists() or path.stat().st_size == 0
    fieldnames = list(row)
    if not new:
        with open(path, newline="") as handle:
            fieldnames = next(csv.reader(handle))
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        if new:
            writer.writeheader()
        writer.writerow(row)
        handle.flush()


def write_csv(
    path: str | os.PathLike[str],
    rows: Sequence[Mapping[str, Any]],
    fieldnames: Sequence[str] | None = None,
) -> None:
    """(Re)write a whole CSV file atomically; used to roll metrics back to a checkpoint."""
    with atomic_open(path, "w") as handle:
        if rows:
            names = list(fieldnames) if fieldnames else list(rows[0])
            writer = csv.DictWriter(handle, fieldnames=names)
            writer.writeheader()
            writer.writerows(rows)


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Read a CSV file into a list of row dicts (values stay strings)."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


class ConfigMismatchError(ValueError):
    """Raised when ``--resume`` is asked to continue a run with different settings."""


def check_config_matches(
    saved: Mapping[str, Any], current: Mapping[str, Any], ignore: Sequence[str] = ()
) -> None:
    """Raise :class:`ConfigMismatchError` listing every setting that differs, except ``ignore``."""
    keys = (set(saved) | set(current)) - set(ignore)
    diffs = [
        f"  --{key.replace('_', '-')}: run has {saved.get(key)!r}, now {current.get(key)!r}"
        for key in sorted(keys)
        if saved.get(key) != current.get(key)
    ]
    if diffs:
        raise ConfigMismatchError(
            "cannot --resume: the settings differ from the ones the run was started with:\n"
            + "\n".join(diffs)
            + "\nPass the original settings, or start a new run in another --out folder."
        )


# Names that only a run writes: a folder holding any of them (or a traj_NNN/) holds a run's files.
RUN_FILE_NAMES = frozenset(
    {
        CONFIG_FILE,
        VERSIONS_FILE,
        METRICS_FILE,
        "summary.json",
        "checkpoints",
        "logs",
        "videos",
        "final_model.zip",
        "final_vecnormalize.pkl",
        "final_normalizer.pkl",
        "hyperparameters.json",
        "demos.json",
    }
)


def folder_contents(run_dir: Path) -> list[str]:
    """The entries of ``run_dir`` (none if it does not exist), without hidden files."""
    if not run_dir.is_dir():
        return []
    return sorted(p.name for p in run_dir.iterdir() if not p.name.startswith("."))


def run_files(run_dir: Path) -> list[str]:
    """The entries of ``run_dir`` that a run writes (config, metrics, checkpoints, traj_NNN ...)."""
    return [n for n in folder_contents(run_dir) if n in RUN_FILE_NAMES or n.startswith("traj_")]


def _listing(names: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def prepare_run_folder(
    out: str | os.PathLike[str],
    config: Mapping[str, Any],
    resume: bool,
    resume_ignore: Sequence[str] = (),
) -> Path:
    """Create (or, with ``resume``, validate) a run folder and write config and versions.

    A new run refuses any folder that is not empty (hidden files aside), so finished work is never
    overwritten, whatever is missing from it. ``--resume`` needs the run's ``config.json``: without
    it a folder holding run files is refused with how to recover (its advice never leads to a new
    run over them). On resume the saved config must match ``config`` apart from the keys in
    ``resume_ignore``. Every refusal happens before anything is written.
    """
    run_dir = Path(out)
    config_path = run_dir / CONFIG_FILE
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"--out {run_dir} is a file, not a folder; choose a folder")
    found = run_files(run_dir)
    if resume:
        if not config_path.exists():
            if found:
                raise FileNotFoundError(
                    f"--resume: {config_path} is missing, but {run_dir} holds files of a run "
                    f"({_listing(found)}); nothing was changed. Restore {CONFIG_FILE} (from a "
                    "copy, or with the run's original settings) and --resume again; a new run "
                    "cannot start in this folder"
                )
            raise FileNotFoundError(
                f"--resume: {run_dir} holds no run ({CONFIG_FILE} missing); "
                "start it without --resume"
            )
        check_config_matches(read_json(config_path, expect=dict), config, ignore=resume_ignore)
    elif config_path.exists():
        raise FileExistsError(
            f"--out {run_dir} already holds a run; "
            "pass --resume to continue it or choose a new folder"
        )
    elif found:
        raise FileExistsError(
            f"--out {run_dir} holds files of a run ({_listing(found)}) but no {CONFIG_FILE}; "
            f"nothing was changed. Restore {CONFIG_FILE} and pass --resume to continue it, or "
            "choose a new folder"
        )
    elif folder_contents(run_dir):
        raise FileExistsError(
            f"--out {run_dir} is not empty ({_listing(folder_contents(run_dir))}); "
            "choose a new or empty folder"
        )
    versions_path = run_dir / VERSIONS_FILE
    previous = read_json(versions_path, expect=dict) if resume and versions_path.exists() else None
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        write_json(config_path, dict(config))
    if previous is not None:
        history = previous.pop("previous_sessions", [])
        current = collect_versions()
        current["previous_sessions"] = [*history, previous]
        write_json(versions_path, current)
    else:
        write_json(versions_path, collect_versions())
    return run_dir


LOCK_FILE = ".lock"


class FolderBusyError(FileExistsError):
    """Another process is working in the folder (it holds the folder's lock)."""


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Hold ``folder/.lock`` exclusively while the body runs, so that two processes (two
    campaigns, or a campaign and a manual ``--resume``) never write one run folder at once.

    The lock is the operating system's (``flock``): a process that dies, however it dies,
    releases it, so a killed run never leaves a stale lock behind. Raises
    :class:`FolderBusyError` at once if another process holds it. (Where ``fcntl`` does not
    exist, e.g. on Windows, the body runs without a lock.)
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = Path(folder) / LOCK_FILE
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise FolderBusyError(
                f"{folder} is in use by {holder}; wait for it to finish (or stop it) and run "
                "again with --resume"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {os.uname().nodename}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def run_folder_lock(out: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the run folder ``out``'s lock (:func:`folder_lock`) for a whole run, so that a second
    process on the same folder (a second ``--resume``, a new run) stops at once with one line
    naming the holder, before it reads or writes anything there.

    Creates the folder if needed; if it created it and the run leaves nothing in it (a failed
    start), the folder goes again. A file at ``out`` is refused.
    """
    run_dir = Path(out)
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"--out {run_dir} is a file, not a folder; choose a folder")
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with folder_lock(run_dir):
            yield run_dir
    finally:
        if created and [p.name for p in run_dir.iterdir()] in ([], [LOCK_FILE]):
            (run_dir / LOCK_FILE).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                run_dir.rmdir()


@contextlib.contextmanager
def starting_run(
    out: str | os.PathLike[str],
    config: Mapping[str, Any],
    resume: bool,
    resume_ignore: Sequence[str] = (),
) -> Iterator[Path]:
    """:func:`prepare_run_folder`, undone if the body (the run's set-up) raises.

    A failed start (an env that cannot be made, a device that does not exist, a damaged
    checkpoint ...) then leaves nothing that blocks the corrected rerun: what this start created
    in the folder is removed (the folder too, if it created it), and on resume ``versions.json``
    is put back as it was. Files that existed before are never touched. Use it around the set-up
    only, up to the first checkpoint or result::

        with starting_run(out, config, resume) as run_dir:
            ...  # make envs, restore or build the model
        learn()
    """
    run_dir = Path(out)
    existed = run_dir.is_dir()
    before = {p.name for p in run_dir.iterdir()} if existed else set()
    versions = run_dir / VERSIONS_FILE
    saved_versions = versions.read_bytes() if resume and versions.is_file() else None
    run_dir = prepare_run_folder(out, config, resume, resume_ignore)
    try:
        yield run_dir
    except BaseException:
        for path in run_dir.iterdir():
            if path.name not in before:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        if saved_versions is not None:
            atomic_write(versions, lambda handle: handle.write(saved_versions))
        if not existed:
            with contextlib.suppress(OSError):
                run_dir.rmdir()
        raise
