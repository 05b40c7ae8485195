"""The shared run-folder and checkpoint machinery under crashes, full disks, careless ``rm`` and
copied folders: what a resume finds is used only if it verifies, nothing complete is deleted or
overwritten, and every refusal names the file and the safe next step."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from reliability_helpers import snapshot

from baselines.common.checkpoint import (
    CheckpointError,
    CheckpointStore,
    RunIdentity,
    resume_checkpoint,
)
from baselines.common.runfolder import atomic_write, prepare_run_folder, starting_run, write_json

fault = pytest.mark.fault
IDENT = RunIdentity.of({"env": "X", "lr": 1e-3}, seed=3)
OTHER = RunIdentity.of({"env": "X", "lr": 1e-3}, seed=4)


def _save(store: CheckpointStore, step: int, payload: bytes = b"weights") -> Path:
    return store.save(step, {"model.bin": lambda f: f.write(payload)}, {"step": step})


def _disk_full(handle: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


# --- checkpoint writes ----------------------------------------------------------------------


@fault
@pytest.mark.parametrize(
    "error", [OSError(errno.ENOSPC, "disk full"), KeyboardInterrupt(), RuntimeError("killed")]
)
def test_a_save_that_fails_midway_leaves_the_last_complete_checkpoint(
    tmp_path: Path, error
) -> None:
    store = CheckpointStore(tmp_path, IDENT)
    _save(store, 10)
    before = snapshot(tmp_path)

    def second_file_fails(handle: object) -> None:
        raise error

    with pytest.raises(type(error)):
        store.save(
            20, {"model.bin": lambda f: f.write(b"new"), "buffer.bin": second_file_fails}, {}
        )
    assert snapshot(tmp_path) == before  # no partial directory, pointer unchanged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.json", "step_0000000010"]
    assert store.latest().step == 10  # type: ignore[union-attr]


@fault
def test_saving_the_same_step_again_never_rewrites_the_complete_checkpoint(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, IDENT)
    first = _save(store, 10, b"first")
    first_files = snapshot(first)

    def killed(handle: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # killed while re-saving step 10
        store.save(10, {"model.bin": killed}, {})
    assert snapshot(first) == first_files and store.latest().path == first  # type: ignore[union-attr]
    again = _save(store, 10, b"second")
    assert again.name == "step_0000000010-r1" and not first.exists()
    assert store.latest().file("model.bin").read_bytes() == b"second"  # type: ignore[union-attr]


@fault
def test_killed_between_the_new_checkpoint_and_the_pointer(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, IDENT, keep=2)
    _save(store, 10)
    _save(store, 20)
    write_json(tmp_path / "latest.json", {"checkpoint": "step_0000000010", "step": 10})
    ckpt = store.latest()  # the newer complete checkpoint wins and the pointer is rebuilt
    assert ckpt is not None and ckpt.step == 20
    assert json.loads((tmp_path / "latest.json").read_text())["checkpoint"] == "step_0000000020"


@fault
def test_leftovers_of_a_killed_save_are_ignored_and_cleaned(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, IDENT)
    _save(store, 10)
    partial = tmp_path / ".partial-999999999-step_0000000020"  # a process that is gone
    partial.mkdir()
    (partial / "model.bin").write_bytes(b"half")
    assert store.latest().step == 10  # type: ignore[union-attr]
    _save(store, 30)
    assert not partial.exists()


@fault
def test_a_foreign_checkpoint_copied_in_is_skipped_and_never_deleted(tmp_path: Path) -> None:
    foreign_root = tmp_path / "foreign"
    _save(CheckpointStore(foreign_root, OTHER), 50)
    store = CheckpointStore(tmp_path / "ours", IDENT)
    _save(store, 10)
    shutil.copytree(foreign_root / "step_0000000050", tmp_path / "ours" / "step_0000000050")
    assert store.latest().step == 10  # type: ignore[union-attr]
    (tmp_path / "ours" / "latest.json").unlink()
    assert store.latest().step == 10  # type: ignore[union-attr]
    _save(store, 60)  # pruning removes only this run's older checkpoints
    names = sorted(p.name for p in (tmp_path / "ours").glob("step_*"))
    assert names == ["step_0000000050", "step_0000000060"]


@fault
def test_pruning_never_removes_a_newer_checkpoint(tmp_path: Path) -> None:
    _save(CheckpointStore(tmp_path, IDENT, keep=2), 10)
    newer = _save(CheckpointStore(tmp_path, IDENT, keep=2), 20)
    write_json(tmp_path / "latest.json", {"checkpoint": "step_0000000010", "step": 10})
    (newer / "model.bin").write_bytes(b"torn!!!")  # the newer one damaged: the pointer is used
    store = CheckpointStore(tmp_path, IDENT, keep=1)
    assert store.latest().step == 10  # type: ignore[union-attr]
    _save(store, 15)  # a resumed run goes on: only the older checkpoint is pruned
    assert newer.exists() and not (tmp_path / "step_0000000010").exists()


@fault
@pytest.mark.parametrize(
    "damage,message",
    [
        (
            lambda d: (d / "step_0000000010" / "model.bin").write_bytes(b"weightz"),
            "checksum mismatch",
        ),
        (lambda d: (d / "step_0000000010" / "model.bin").write_bytes(b""), "checksum mismatch"),
        (lambda d: (d / "step_0000000010" / "model.bin").unlink(), "missing from its checkpoint"),
        (lambda d: (d / "step_0000000010" / "manifest.json").unlink(), "incomplete"),
        (lambda d: (d / "step_0000000010" / "manifest.json").write_bytes(b"\xff\xfe"), "damaged"),
        (lambda d: (d / "step_0000000010" / "manifest.json").write_text("[]"), "damaged"),
        (lambda d: (d / "step_0000000010" / "manifest.json").write_text('{"step": 10}'), "damaged"),
        (lambda d: _edit_manifest(d, files={"model.bin": "x"}), "damaged"),
        (lambda d: _edit_manifest(d, identity="me"), "damaged"),
        (
            lambda d: _edit_manifest(d, identity={"config_hash": "0", "seed": 3}),
            "belongs to another run",
        ),
        (
            lambda d: _edit_manifest(d, identity={**IDENT.as_dict(), "seed": 99}),
            "belongs to another run",
        ),
        (lambda d: shutil.rmtree(d / "step_0000000010"), "does not exist"),
    ],
    ids=[
        "same-size damage",
        "emptied",
        "file removed",
        "manifest removed",
        "manifest binary",
        "manifest a list",
        "manifest incomplete",
        "manifest bad record",
        "identity not a dict",
        "identity of other settings",
        "identity of another seed",
        "checkpoint removed",
    ],
)
def test_damage_under_the_pointer_stops_resume_naming_the_file(
    tmp_path: Path, damage, message
) -> None:
    store = CheckpointStore(tmp_path, IDENT)
    _save(store, 10)
    damage(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(CheckpointError, match=message) as info:
        store.latest()
    assert str(tmp_path) in str(info.value) and "\n" not in str(info.value)
    assert snapshot(tmp_path) == before  # nothing was changed


def _edit_manifest(root: Path, **changes: object) -> None:
    path = root / "step_0000000010" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


@fault
@pytest.mark.parametrize(
    "pointer",
    ["", "{not json", "[]", '{"checkpoint": 3}', '{"checkpoint": "../../etc"}', '{"step": 10}'],
    ids=["empty", "not json", "a list", "a number", "outside the store", "no name"],
)
def test_a_damaged_pointer_is_rebuilt_from_the_complete_checkpoint(
    tmp_path: Path, pointer: str
) -> None:
    store = CheckpointStore(tmp_path, IDENT)
    _save(store, 10)
    (tmp_path / "latest.json").write_text(pointer)
    assert store.latest().step == 10  # type: ignore[union-attr]
    assert json.loads((tmp_path / "latest.json").read_text())["checkpoint"] == "step_0000000010"


@fault
def test_the_disk_fills_up_during_an_atomic_write(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    write_json(target, {"rows": 1})
    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, _disk_full)
    assert json.loads(target.read_text()) == {"rows": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


# --- run folders ------------------------------------------------------------------------------

CONFIG = {"env": "X", "lr": 0.001}


def _run_folder(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    prepare_run_folder(out, CONFIG, resume=False)
    _save(CheckpointStore(out / "checkpoints", IDENT), 10)
    (out / "metrics.csv").write_text("timesteps,success_final\n10,0.5\n")
    return out


@fault
@pytest.mark.parametrize("resume", [False, True], ids=["new run", "resume"])
def test_a_lost_config_never_leads_to_overwriting_the_run(tmp_path: Path, resume: bool) -> None:
    out = _run_folder(tmp_path)
    (out / "config.json").unlink()
    before = snapshot(out)
    with pytest.raises(FileNotFoundError if resume else FileExistsError) as info:
        prepare_run_folder(out, CONFIG, resume=resume)
    message = str(info.value)
    assert "config.json" in message and "Restore config.json" in message
    assert "without --resume" not in message  # the advice never leads to a new run over it
    assert snapshot(out) == before


@fault
@pytest.mark.parametrize(
    "content",
    [b"\x00\x01garbage", b"{not json", b"[1, 2]", b""],
    ids=["binary", "not json", "a list", "empty"],
)
@pytest.mark.parametrize("name", ["config.json", "versions.json"])
def test_a_damaged_config_or_versions_file_stops_resume_naming_it(
    tmp_path: Path, name: str, content: bytes
) -> None:
    out = _run_folder(tmp_path)
    (out / name).write_bytes(content)
    before = snapshot(out)
    with pytest.raises(ValueError, match=name) as info:
        prepare_run_folder(out, CONFIG, resume=True)
    assert "restore it" in str(info.value)
    assert snapshot(out) == before


@fault
@pytest.mark.parametrize(
    "leftover", ["traj_000", "checkpoints", "metrics.csv", "summary.json", "notes.txt"]
)
def test_a_new_run_refuses_any_folder_holding_files(tmp_path: Path, leftover: str) -> None:
    out = tmp_path / "run"
    out.mkdir()
    if "." in leftover:
        (out / leftover).write_text("x")
    else:
        (out / leftover).mkdir()
    with pytest.raises(FileExistsError, match="--out"):
        prepare_run_folder(out, CONFIG, resume=False)
    assert [p.name for p in out.iterdir()] == [leftover]


@fault
def test_hidden_leftovers_of_a_killed_write_do_not_block_a_new_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / ".config.json.tmp-12345").write_text("{")
    prepare_run_folder(out, CONFIG, resume=False)
    assert json.loads((out / "config.json").read_text()) == CONFIG


@fault
def test_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.write_text("not a folder")
    with pytest.raises(FileExistsError, match="is a file"):
        prepare_run_folder(out, CONFIG, resume=False)


@fault
@pytest.mark.parametrize("existed", [False, True], ids=["new folder", "empty folder"])
def test_a_failed_start_leaves_nothing_behind(tmp_path: Path, existed: bool) -> None:
    out = tmp_path / "run"
    if existed:
        out.mkdir()
    with pytest.raises(RuntimeError), starting_run(out, CONFIG, resume=False) as run_dir:
        (run_dir / "hyperparameters.json").write_text("{}")
        (run_dir / "logs").mkdir()
        raise RuntimeError("the env could not be made")
    assert out.exists() == existed and (not existed or not any(out.iterdir()))
    prepare_run_folder(out, CONFIG, resume=False)  # the corrected rerun is not blocked


@fault
def test_a_failed_resume_puts_versions_back_and_keeps_everything_else(tmp_path: Path) -> None:
    out = _run_folder(tmp_path)
    before = snapshot(out)
    with pytest.raises(CheckpointError), starting_run(out, CONFIG, resume=True) as run_dir:
        (run_dir / "logs").mkdir()
        raise CheckpointError("a damaged model")
    assert snapshot(out) == before


@fault
@pytest.mark.parametrize("result", ["metrics.csv", "summary.json", "final_model.zip"])
def test_results_without_a_checkpoint_stop_resume(tmp_path: Path, result: str) -> None:
    out = tmp_path / "run"
    prepare_run_folder(out, CONFIG, resume=False)
    (out / result).write_text("timesteps\n10\n" if result == "metrics.csv" else "{}")
    store = CheckpointStore(out / "checkpoints", IDENT)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        resume_checkpoint(store, out, resume=True)
    # a run killed before its first checkpoint and evaluation resumes from step 0
    (out / result).unlink()
    (out / "metrics.csv").write_text("timesteps\n")
    assert resume_checkpoint(store, out, resume=True) is None


def test_stale_partials_of_live_processes_are_kept(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, IDENT)
    live = tmp_path / f".partial-{os.getppid()}-step_0000000005"
    live.mkdir(parents=True)
    _save(store, 10)
    assert live.exists()
