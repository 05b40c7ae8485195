"""Run folders: atomic writes, config checks on resume, metrics CSV."""

from __future__ import annotations

import json

import pytest

from baselines.common.runfolder import (
    ConfigMismatchError,
    append_csv_row,
    atomic_write,
    prepare_run_folder,
    read_csv,
    write_csv,
    write_json,
)


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    target = tmp_path / "model.zip"
    atomic_write(target, lambda handle: handle.write(b"old"))

    def broken(handle):
        handle.write(b"half of the new")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]  # no temporary left behind


def test_write_json_round_trip(tmp_path):
    write_json(tmp_path / "a.json", {"x": 1, "y": [1, 2]})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1, "y": [1, 2]}


def test_run_folder_new_refuses_existing_and_resume_checks_config(tmp_path):
    out = tmp_path / "run"
    config = {"env": "FetchReach-v4", "algo": "ddpg", "timesteps": 100, "lr": 0.001}
    prepare_run_folder(out, config, resume=False)
    versions = json.loads((out / "versions.json").read_text())
    assert versions["packages"]["stable-baselines3"]
    assert "mujoco" in versions["packages"] and "torch" in versions
    with pytest.raises(FileExistsError, match="--resume"):
        prepare_run_folder(out, config, resume=False)
    # A longer run may resume; a different learning rate may not.
    prepare_run_folder(out, {**config, "timesteps": 500}, resume=True, resume_ignore=["timesteps"])
    with pytest.raises(ConfigMismatchError, match=r"--lr: run has 0\.001, now 0\.01"):
        prepare_run_folder(out, {**config, "lr": 0.01}, resume=True, resume_ignore=["timesteps"])
    with pytest.raises(FileNotFoundError, match="holds no run"):
        prepare_run_folder(tmp_path / "nothing", config, resume=True)


def test_csv_append_keeps_column_order_after_rollback(tmp_path):
    path = tmp_path / "metrics.csv"
    append_csv_row(path, {"timesteps": 1, "success_final": 0.5})
    write_csv(
        path, [{"success_final": 0.5, "timesteps": 1}], fieldnames=["timesteps", "success_final"]
    )
    append_csv_row(path, {"success_final": 1.0, "timesteps": 2})
    assert path.read_text().splitlines()[0] == "timesteps,success_final"
    assert read_csv(path) == [
        {"timesteps": "1", "success_final": "0.5"},
        {"timesteps": "2", "success_final": "1.0"},
    ]
