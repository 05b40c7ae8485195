"""Helpers of the fault-injection suite (see conftest.py)."""

from __future__ import annotations

import errno
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` by relative path (to assert "nothing changed")."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def error_line(capsys: pytest.CaptureFixture[str], prog: str) -> str:
    """The one error line a CLI printed (``prog: error: ...``); fails if there is not exactly one."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(f"{prog}: error:")]
    assert len(lines) == 1, err
    return lines[0]


HER_PROG = "python -m baselines.her"
TOPDM_PROG = "python -m baselines.topdm"
TD3_PROG = "python -m baselines.td3_demos"


def her_argv(out: Path, timesteps: int = 100, seed: int = 3, *extra: str) -> list[str]:
    """A tiny HER run: FetchReach-v4, the single preset, one env, a 16-unit network, no video."""
    return [
        "--env",
        "FetchReach-v4",
        "--preset",
        "single",
        "--timesteps",
        str(timesteps),
        "--out",
        str(out),
        "--seed",
        str(seed),
        "--eval-freq",
        "100",
        "--checkpoint-freq",
        "100",
        "--no-progress",
        "--gradient-steps",
        "1",
        "--batch-size",
        "16",
        "--eval-episodes",
        "1",
        "--no-video",
        "--n-envs",
        "1",
        "--net-arch",
        "16",
        "--verbose",
        "0",
        *extra,
    ]


def topdm_argv(out: Path, *extra: str) -> list[str]:
    return [
        "--env",
        "EggHandOver-v0",
        "--preset",
        "smoke",
        "--out",
        str(out),
        "--no-video",
        "--threads",
        "1",
        *extra,
    ]


def td3_argv(out: Path, *extra: str) -> list[str]:
    return [
        "--preset",
        "smoke",
        "--out",
        str(out),
        "--no-demos",
        "--no-video",
        "--no-progress",
        "--verbose",
        "0",
        "--timesteps",
        "150",
        *extra,
    ]


def copy_run(run: Path, tmp_path: Path) -> Path:
    """A private copy of a session run folder to damage."""
    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out


def only_checkpoint(run: Path) -> Path:
    """The one ``step_*`` directory of a run's (or trajectory's) checkpoint store."""
    (path,) = sorted((run / "checkpoints").glob("step_*"))
    return path


def damage_past_checksums(run: Path, file_name: str, content: bytes | None) -> Path:
    """Replace ``file_name`` of the run's checkpoint with ``content`` (remove it when ``None``) and
    re-seal the manifest to match, as if the file had been damaged before it was checksummed:
    the store then verifies, and the runner's own loader must name the damage. Returns the file."""
    import json

    ckpt = only_checkpoint(run)
    manifest = json.loads((ckpt / "manifest.json").read_text())
    path = ckpt / file_name
    if content is None:
        path.unlink()
        del manifest["files"][file_name]
    else:
        path.write_bytes(content)
        manifest["files"][file_name] = {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}  # fmt: skip
    (ckpt / "manifest.json").write_text(json.dumps(manifest))
    return path


def fill_the_disk_at(monkeypatch: pytest.MonkeyPatch, file_name: str) -> Callable[[], None]:
    """Make every checkpoint write of ``file_name`` fail as on a full disk (ENOSPC); returns the
    function that frees the space again."""
    import baselines.common.checkpoint as checkpoint

    real = checkpoint.atomic_write

    def full_disk(path: Any, writer: Any) -> None:
        if Path(path).name == file_name:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, writer)

    monkeypatch.setattr(checkpoint, "atomic_write", full_disk)
    return lambda: monkeypatch.setattr(checkpoint, "atomic_write", real)
