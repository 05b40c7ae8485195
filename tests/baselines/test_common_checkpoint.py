"""The shared checkpoint store: atomic save, verification, identity, and rebuilding latest.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baselines.common.checkpoint import (
    CheckpointError,
    CheckpointStore,
    RunIdentity,
    checkpoint_order,
    config_hash,
)

IDENT = RunIdentity.of({"env": "X", "lr": 1e-3}, seed=3)


def _save(store: CheckpointStore, step: int, payload: bytes = b"weights") -> Path:
    return store.save(step, {"model.bin": lambda f: f.write(payload)}, {"history": [step]})


def test_save_then_latest_round_trip_and_prune(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, IDENT)
    assert store.latest() is None
    _save(store, 10)
    _save(store, 20, b"newer")
    ckpt = store.latest()
    assert ckpt is not None and ckpt.step == 20 and ckpt.state == {"history": [20]}
    assert ckpt.file("model.bin").read_bytes() == b"newer"
    assert [p.name for p in tmp_path.glob("step_*")] == ["step_0000000020"]  # older pruned
    with pytest.raises(CheckpointError, match=r"has no optimizer\.bin"):
        ckpt.file("optimizer.bin")


@pytest.mark.parametrize("keep", [1, 2])
def test_many_checkpoints_at_one_step_resume_from_the_newest(tmp_path: Path, keep: int) -> None:
    # PlanGAN checkpoints during a training block, where its env-step counter stands still
    store = CheckpointStore(tmp_path, IDENT, keep=keep)
    _save(store, 10)
    for i in range(12):  # past -r9, where names stop sorting like revisions
        store.save(20, {"model.bin": lambda f, i=i: f.write(b"%d" % i)}, {"i": i})
        for reader in (store, CheckpointStore(tmp_path, IDENT, keep=keep)):  # a resumed process
            ckpt = reader.latest()
            assert ckpt is not None and ckpt.state == {"i": i}
            assert ckpt.file("model.bin").read_bytes() == b"%d" % i
        assert len(list(tmp_path.glob("step_*"))) == keep
    assert json.loads((tmp_path / "latest.json").read_text())["checkpoint"] == "step_0000000020-r11"
    # without latest.json the newest revision is found from the names alone
    (tmp_path / "latest.json").unlink()
    ckpt = store.latest()
    assert ckpt is not None and ckpt.state == {"i": 11}


def test_checkpoint_names_order_by_step_then_revision() -> None:
    names = ["step_0000000020-r10", "step_0000000020-r9", "step_0000000020", "step_0000000019-r3"]
    assert sorted(names, key=checkpoint_order) == [names[3], names[2], names[1], names[0]]
    assert checkpoint_order("step_x") == checkpoint_order("notes") == (-1, -1)


def test_missing_or_damaged_latest_is_rebuilt_from_complete_checkpoints(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, IDENT, keep=2)
    _save(store, 10)
    _save(store, 20)
    (tmp_path / "latest.json").unlink()
    ckpt = store.latest()
    assert ckpt is not None and ckpt.step == 20
    assert json.loads((tmp_path / "latest.json").read_text())["checkpoint"] == "step_0000000020"
    (tmp_path / "latest.json").write_text("{not json")
    assert store.latest().step == 20  # type: ignore[union-attr]
    # the newest directory damaged and no pointer: the older complete one is used, nothing deleted
    (tmp_path / "latest.json").unlink()
    (tmp_path / "step_0000000020" / "model.bin").write_bytes(b"torn")
    assert store.latest().step == 10  # type: ignore[union-attr]
    assert (tmp_path / "step_0000000020" / "model.bin").exists()


def test_a_reader_that_does_not_repair_never_writes(tmp_path: Path) -> None:
    """Monitors read runs that another thread or process writes: ``repair=False`` finds the same
    checkpoint and leaves the folder as it is (a repairing reader once raced the writer)."""
    store = CheckpointStore(tmp_path, IDENT, keep=2)
    _save(store, 10)
    _save(store, 20)
    (tmp_path / "latest.json").write_text(json.dumps({"checkpoint": "step_0000000010", "step": 10}))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    ckpt = CheckpointStore(tmp_path, IDENT).latest(repair=False)
    assert ckpt is not None and ckpt.step == 20
    (tmp_path / "latest.json").unlink()
    assert CheckpointStore(tmp_path, IDENT).latest(repair=False).step == 20  # type: ignore[union-attr]
    assert not (tmp_path / "latest.json").exists()
    assert all(p.read_bytes() == data for p, data in before.items() if p.exists())


def test_atomic_writes_from_two_threads_do_not_collide(tmp_path: Path) -> None:
    import threading

    from baselines.common.runfolder import atomic_write

    errors: list[BaseException] = []

    def writer(tag: bytes) -> None:
        try:
            for _ in range(200):
                atomic_write(tmp_path / "shared.json", lambda f: f.write(tag * 1000))
        except BaseException as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(tag,)) for tag in (b"a", b"b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert (tmp_path / "shared.json").read_bytes() in (b"a" * 1000, b"b" * 1000)


def test_damaged_file_is_named_and_nothing_is_changed(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, IDENT)
    path = _save(store, 10)
    (path / "model.bin").write_bytes(b"weightz")  # same size, other content
    with pytest.raises(CheckpointError, match=r"model\.bin: damaged checkpoint file"):
        store.latest()
    (path / "model.bin").unlink()
    with pytest.raises(CheckpointError, match=r"model\.bin: missing"):
        store.latest()
    (path / "manifest.json").write_text("[")
    with pytest.raises(CheckpointError, match=r"manifest\.json: damaged"):
        store.latest()
    assert (tmp_path / "latest.json").exists()


def test_checkpoint_of_another_run_or_seed_is_refused(tmp_path: Path) -> None:
    _save(CheckpointStore(tmp_path, RunIdentity.of({"env": "X", "lr": 1e-3}, seed=4)), 10)
    with pytest.raises(CheckpointError, match="belongs to another run"):
        CheckpointStore(tmp_path, IDENT).latest()


def test_all_checkpoints_damaged_without_pointer_is_an_error_not_a_fresh_start(tmp_path: Path) -> None:  # fmt: skip
    store = CheckpointStore(tmp_path, IDENT)
    path = _save(store, 10)
    (tmp_path / "latest.json").unlink()
    (path / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match="no checkpoint under"):
        store.latest()


def test_config_hash_ignores_the_named_keys_and_key_order() -> None:
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    assert config_hash({"a": 1, "out": "x"}, ignore=["out"]) == config_hash({"a": 1, "out": "y"}, ignore=["out"])  # fmt: skip
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="keep must be >= 1"):
        CheckpointStore("x", IDENT, keep=0)
    with pytest.raises(ValueError, match="at least one file"):
        CheckpointStore("x", IDENT).save(1, {}, {})
