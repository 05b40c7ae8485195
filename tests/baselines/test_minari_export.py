"""TOPDM trajectories exported as a Minari dataset: exact round trip, CLI errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

minari = pytest.importorskip("minari")
pytest.importorskip("h5py")  # Minari's HDF5 storage

import dexterous_gym  # noqa: E402, F401
from baselines.common.trajectory import (  # noqa: E402
    TrajectoryFileError,
    load_trajectory,
    save_trajectory,
)
from baselines.datasets import export_minari, main  # noqa: E402
from baselines.topdm.__main__ import main as topdm_main  # noqa: E402

DATASET_ID = "dexterous_gym/EggHandOver/topdm-v0"


def _smoke_run(out: Path, env_id: str, trajectories: int) -> Path:
    argv = ["--env", env_id, "--preset", "smoke", "--out", str(out), "--no-video",
            "--threads", "1", "--trajectories", str(trajectories)]  # fmt: skip
    assert topdm_main(argv) == 0
    return out


@pytest.fixture(scope="module")
def egg_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _smoke_run(tmp_path_factory.mktemp("topdm") / "egg", "EggHandOver-v0", 2)


@pytest.fixture(scope="module")
def pen_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _smoke_run(tmp_path_factory.mktemp("topdm") / "pen", "PenSpin-v0", 1)


@pytest.fixture
def data_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


def _replay_observations(env_id: str, states: np.ndarray, actions: np.ndarray) -> list:
    env = gym.make(env_id).unwrapped
    obs, _ = env.reset(options={"state": states[0]})
    observations = [obs]
    for action in actions:
        observations.append(env.step(action)[0])
    env.close()
    return observations


def test_export_round_trip(egg_run: Path, data_path: Path) -> None:
    export_minari([egg_run], DATASET_ID, author="tester")
    dataset = minari.load_dataset(DATASET_ID)
    assert dataset.total_episodes == 2 and dataset.total_steps == 6
    assert dataset.spec.env_spec.id == "EggHandOver-v0"
    assert isinstance(dataset.observation_space, gym.spaces.Dict)
    meta = dataset.storage.metadata
    assert meta["algorithm_name"] == "TOPDM" and meta["author"] == {"tester"}
    files = [egg_run / f"traj_{i:03d}" / "trajectory.npz" for i in range(2)]
    for episode, file, episode_meta in zip(
        dataset.iterate_episodes(), files, dataset.storage.get_episode_metadata([0, 1]), strict=True
    ):
        traj = load_trajectory(file)
        np.testing.assert_array_equal(episode.actions, traj.actions)
        assert episode.actions.dtype == traj.actions.dtype  # float64: not rounded to float32
        np.testing.assert_array_equal(episode.rewards, traj.rewards)
        np.testing.assert_array_equal(episode.infos["state"], traj.states)
        np.testing.assert_array_equal(episode.infos["success"][1:], traj.success)
        assert not episode.terminations.any()
        assert episode.truncations.tolist() == [False, False, True]
        replay = _replay_observations("EggHandOver-v0", traj.states, traj.actions)
        for key in ("observation", "achieved_goal", "desired_goal"):
            np.testing.assert_array_equal(episode.observations[key], np.stack([o[key] for o in replay]))  # fmt: skip
        np.testing.assert_array_equal(episode_meta["options"]["state"], traj.states[0])
        assert episode_meta["planner"] == "topdm" and episode_meta["source"] == str(file)
    env = dataset.recover_environment()
    assert env.spec is not None and env.spec.id == "EggHandOver-v0"
    env.close()


def test_box_observations_and_nan_success(pen_run: Path, data_path: Path) -> None:
    file = pen_run / "traj_000" / "trajectory.json"  # the sidecar names the trajectory too
    export_minari([file], "pen/topdm-v0", author="tester")
    episode = minari.load_dataset("pen/topdm-v0")[0]
    traj = load_trajectory(file)
    replay = _replay_observations("PenSpin-v0", traj.states, traj.actions)
    np.testing.assert_array_equal(episode.observations, np.stack(replay))
    np.testing.assert_array_equal(episode.infos["state"], traj.states)
    assert np.isnan(episode.infos["success"]).all()


def test_cli(
    egg_run: Path, pen_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "datasets"
    args = ["export", str(egg_run), "--dataset-id", DATASET_ID, "--data-path", str(root)]
    assert main(args) == 0
    assert "2 episodes, 6 steps of EggHandOver-v0" in capsys.readouterr().out
    assert (root / DATASET_ID / "data" / "main_data.hdf5").exists()

    def fails(argv: list[str], message: str) -> None:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err

    fails(args, "already exists")
    other = ["--dataset-id", "other-v0", "--data-path", str(root)]
    fails(["export", str(egg_run), str(pen_run), *other], "mix 2: EggHandOver-v0")
    fails(["export", str(tmp_path / "missing.npz"), *other], "no such trajectory file")
    fails(["export", str(tmp_path), *other], "no trajectory files in this folder")
    fails(["export", str(egg_run), "--dataset-id", "no version", "--data-path", str(root)], "Malformed")  # fmt: skip
    assert not (root / "other-v0").exists()


def test_damaged_or_diverging_file_leaves_no_dataset(egg_run: Path, tmp_path: Path, data_path: Path) -> None:  # fmt: skip
    source = egg_run / "traj_000" / "trajectory"
    damaged = tmp_path / "damaged"
    for suffix in (".npz", ".json"):
        shutil.copy(source.with_suffix(suffix), damaged.with_suffix(suffix))
    damaged.with_suffix(".npz").write_bytes(damaged.with_suffix(".npz").read_bytes()[:100])
    with pytest.raises(TrajectoryFileError, match="damaged"):
        export_minari([damaged.with_suffix(".npz")], "bad/damaged-v0")

    # a valid file whose rewards the env does not reproduce (edited, or another MuJoCo version)
    traj = load_trajectory(source.with_suffix(".npz"))
    arrays = {k: getattr(traj, k) for k in ("start_state", "actions", "rewards", "success", "states")}  # fmt: skip
    arrays["rewards"] = arrays["rewards"] + 1e-12
    meta = json.loads(source.with_suffix(".json").read_text())
    edited = save_trajectory(tmp_path / "edited.npz", arrays, {k: meta[k] for k in ("env_id", "goal", "seed", "config", "planner")})  # fmt: skip
    with pytest.raises(TrajectoryFileError, match=r"does not reproduce .* at step 0"):
        export_minari([egg_run / "traj_001" / "trajectory.npz", edited], "bad/edited-v0")
    assert not (data_path / "bad" / "damaged-v0").exists()
    assert not (data_path / "bad" / "edited-v0").exists()
