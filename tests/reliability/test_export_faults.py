"""The Minari export (``python -m baselines.datasets export``) under faults: one export at a time
per dataset ID (a second gets one line naming the holder), a full disk or a killed export leaves
nothing under the ID and the printed advice works, files of another run are refused, and each
episode's seed is its file's run's."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from reliability_helpers import copy_run, topdm_argv

minari = pytest.importorskip("minari")
pytest.importorskip("h5py")  # Minari's HDF5 storage

from minari.dataset._storages.hdf5_storage import HDF5Storage  # noqa: E402

from baselines.common.runfolder import folder_lock  # noqa: E402
from baselines.datasets import main  # noqa: E402
from baselines.topdm.__main__ import main as topdm_main  # noqa: E402

fault = pytest.mark.fault
PROG = "python -m baselines.datasets"
DATASET_ID = "dexterous_gym/EggHandOver/topdm-v0"
STAGING = ".dexterous_gym__EggHandOver__topdm-v0.partial"


@pytest.fixture(scope="module")
def egg_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-trajectory TOPDM smoke run, seeds 2 and 3."""
    out = tmp_path_factory.mktemp("topdm") / "run"
    assert topdm_main(topdm_argv(out, "--trajectories", "2", "--seed", "2")) == 0
    return out


def _export(run: Path, root: Path) -> list[str]:
    return ["export", str(run), "--dataset-id", DATASET_ID, "--data-path", str(root)]


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{PROG}: error: "), err
    return err


def _nothing_under_the_id(root: Path) -> None:
    assert not (root / DATASET_ID).exists()
    assert DATASET_ID not in minari.list_local_datasets()


@fault
def test_a_second_export_of_an_id_is_refused_while_the_first_runs(egg_run, tmp_path, capsys) -> None:  # fmt: skip
    root = tmp_path / "datasets"
    (root / STAGING).mkdir(parents=True)
    with folder_lock(root / STAGING):  # another export holds the ID
        assert main(_export(egg_run, root)) == 2
        line = _one_line(capsys)
    assert "being written by another export (pid " in line and "wait for it to finish" in line
    assert not (root / DATASET_ID).exists()
    assert main(_export(egg_run, root)) == 0  # the holder gone: fine
    assert (root / DATASET_ID / "data").is_dir()


def _fail_part_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up after the first episode is written."""
    real = HDF5Storage.update_episodes

    def full_disk(self: HDF5Storage, episodes: Any) -> None:
        real(self, list(episodes)[:1])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(HDF5Storage, "update_episodes", full_disk)


@fault
def test_a_full_disk_leaves_nothing_and_the_advice_works(
    egg_run, tmp_path, capsys, monkeypatch
) -> None:
    root = tmp_path / "datasets"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    with monkeypatch.context() as patched:
        _fail_part_way(patched)
        assert main(_export(egg_run, root)) == 2
        line = _one_line(capsys)
    assert "No space left on device" in line and "free disk space and export again" in line
    _nothing_under_the_id(root)
    staging = root / STAGING
    assert (sorted(p.name for p in staging.iterdir()) if staging.exists() else []) in (
        [],
        [".lock"],
    )
    assert main(_export(egg_run, root)) == 0  # as advised: the same command again
    assert minari.load_dataset(DATASET_ID).total_episodes == 2


@fault
def test_too_little_free_space_is_refused_before_writing(
    egg_run, tmp_path, capsys, monkeypatch
) -> None:
    import baselines.datasets as datasets

    root = tmp_path / "datasets"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    monkeypatch.setattr(datasets.shutil, "disk_usage", lambda path: SimpleNamespace(free=1000))
    assert main(_export(egg_run, root)) == 2
    line = _one_line(capsys)
    assert "MB are free" in line and "free disk space and export again" in line
    _nothing_under_the_id(root)


@fault
def test_what_a_killed_export_left_does_not_block_the_next(egg_run, tmp_path, monkeypatch) -> None:
    root = tmp_path / "datasets"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    partial = root / STAGING / DATASET_ID / "data"
    partial.mkdir(parents=True)
    (partial / "main_data.hdf5").write_bytes(b"torn")  # as a killed (or crashed) export leaves it
    assert main(_export(egg_run, root)) == 0
    assert minari.load_dataset(DATASET_ID).total_episodes == 2
    assert not (root / STAGING / DATASET_ID).exists()


@fault
@pytest.mark.parametrize("names", [("trajectory.npz",), ("trajectory.npz", "trajectory.json")], ids=["npz", "both files"])  # fmt: skip
def test_a_swapped_file_is_refused(egg_run, tmp_path, capsys, monkeypatch, names) -> None:
    root = tmp_path / "datasets"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    run = copy_run(egg_run, tmp_path)
    for name in names:
        shutil.copy(run / "traj_001" / name, run / "traj_000" / name)
    assert main(_export(run, root)) == 2
    line = _one_line(capsys)
    assert "traj_000" in line and "seed=3 trajectory=1" in line and "seed=2 trajectory=0" in line
    _nothing_under_the_id(root)


@fault
def test_the_episode_seed_is_the_files_run_seed(egg_run, tmp_path, monkeypatch) -> None:
    """A file copied out of its run folder with an edited sidecar seed still says seed 3."""
    root = tmp_path / "datasets"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    lone = tmp_path / "lone"
    lone.mkdir()
    for suffix in (".npz", ".json"):
        shutil.copy(egg_run / "traj_001" / f"trajectory{suffix}", lone / f"t{suffix}")
    meta = json.loads((lone / "t.json").read_text())
    (lone / "t.json").write_text(json.dumps({**meta, "seed": 0}))
    assert main(["export", str(lone / "t.npz"), "--dataset-id", DATASET_ID]) == 0
    (episode,) = minari.load_dataset(DATASET_ID).storage.get_episode_metadata([0])
    assert episode["planner_seed"] == 3 and episode["trajectory_index"] == 1
