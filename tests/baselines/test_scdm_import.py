"""The SCDM importer: files in the original format (written here, with a stand-in for mujoco-py's
MjSimState), a restricted unpickler that runs nothing, verification, and the CLI."""

from __future__ import annotations

import copyreg
import json
import os
import pickle
import sys
import types
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

joblib = pytest.importorskip("joblib")

import dexterous_gym  # noqa: E402, F401
from baselines.common.trajectory import load_trajectory  # noqa: E402
from baselines.datasets import main  # noqa: E402
from baselines.scdm import (  # noqa: E402
    ScdmFileError,
    import_scdm,
    load_scdm_pickle,
    parse_scdm,
)
from baselines.td3_demos.demos import load_demos  # noqa: E402


class _MjSimState:
    """Pickles as mujoco-py's record does: ``MjSimState.__new__(cls, time, qpos, qvel, act, udd)``."""

    def __init__(self, time: float, qpos: np.ndarray, qvel: np.ndarray) -> None:
        self.args = (time, qpos, qvel, None, {})

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return copyreg.__newobj__, (type(self), *self.args)


@pytest.fixture
def mujoco_py_module(monkeypatch: pytest.MonkeyPatch) -> type:
    """A module ``mujoco_py.cymj`` holding the stand-in, so that pickle names the original class."""
    package = types.ModuleType("mujoco_py")
    module = types.ModuleType("mujoco_py.cymj")
    cls = type("MjSimState", (_MjSimState,), {"__module__": "mujoco_py.cymj"})
    module.MjSimState = cls  # type: ignore[attr-defined]
    package.cymj = module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mujoco_py", package)
    monkeypatch.setitem(sys.modules, "mujoco_py.cymj", module)
    return cls


def _record(env: gym.Env, cls: type) -> object:
    data = env.unwrapped.data
    return cls(float(data.time), data.qpos.copy(), data.qvel.copy())


def write_topdm_file(path: Path, env_id: str, cls: type, steps: int = 12, seed: int = 0) -> dict:
    """A TOPDM trajectory in the SCDM layout: L + 1 states, per-step reward and success lists."""
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    states, actions, rewards, success, ag = [_record(env, cls)], [], [], [], [obs["achieved_goal"]]
    for _ in range(steps):
        action = rng.uniform(-1, 1, env.action_space.shape) * 0.3
        obs, reward, _, _, info = env.step(action)
        states.append(_record(env, cls))
        actions.append(action)
        rewards.append(np.float64(reward))
        success.append(np.float32(info["is_success"]))
        ag.append(obs["achieved_goal"])
    data = {
        "sim_states": states, "actions": actions, "rewards": rewards, "success": success,
        "goal": obs["desired_goal"].copy(), "ag": ag,
        "best_rewards_it": [[float(r)] * 3 for r in rewards],
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(data, path)
    return data


def write_pen_spin_demo(path: Path, cls: type, steps: int = 10) -> dict:
    """A TD3+demos demonstration in the SCDM layout: L states (each before its action)."""
    env = gym.make("PenSpin-v0")
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(1)
    states, observations, actions, rewards = [], [], [], []
    for _ in range(steps):
        states.append(_record(env, cls))
        observations.append(obs)
        action = rng.uniform(-1, 1, env.action_space.shape) * 0.2
        obs, reward, _, _, _ = env.step(action)
        actions.append(action)
        rewards.append(reward)
    data = {
        "observations": np.array(observations), "actions": np.array(actions),
        "rewards": np.array(rewards), "init_state_dict": states[0], "sim_states": states,
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(data, path)
    return data


@pytest.fixture
def scdm_clone(tmp_path: Path, mujoco_py_module: type) -> Path:
    """A miniature SCDM clone: two EggHandOver trajectories, one of a task with no env here, one
    PenSpin demonstration."""
    root = tmp_path / "SCDM"
    folder = root / "prerun_trajectories" / "EggHandOver-v0"
    write_topdm_file(folder / "success_1.pkl", "EggHandOver-v0", mujoco_py_module, seed=0)
    write_topdm_file(folder / "failure_1.pkl", "EggHandOver-v0", mujoco_py_module, seed=1)
    block = root / "prerun_trajectories" / "HandManipulateBlockFull-v0" / "success_1.pkl"
    write_topdm_file(block, "EggHandOver-v0", mujoco_py_module)
    write_pen_spin_demo(root / "TD3_plus_demos" / "demonstrations" / "example_1.pkl", mujoco_py_module)  # fmt: skip
    return root


def test_import_writes_verified_trajectory_folders(scdm_clone: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    results = import_scdm(scdm_clone, tmp_path / "out", say=lines.append, progress=False)
    written = {r.source.name: r for r in results if r.written is not None}
    assert sorted(written) == ["example_1.pkl", "failure_1.pkl", "success_1.pkl"]
    assert lines == [f"skipped {scdm_clone / 'prerun_trajectories/HandManipulateBlockFull-v0/success_1.pkl'}: task HandManipulateBlockFull-v0 has no env here"]  # fmt: skip
    egg = written["success_1.pkl"]
    traj = load_trajectory(egg.written)
    source = parse_scdm(egg.source)
    assert traj.meta["env_id"] == "EggHandOver-v0"
    assert traj.meta["source"]["original_task"] == "EggHandOver-v0"
    assert traj.meta["source"]["sha256"] == __import__("hashlib").sha256(egg.source.read_bytes()).hexdigest()  # fmt: skip
    assert traj.meta["verification"]["agrees"] is True
    # states in our layout (model tag included) hold the file's qpos, qvel, time and goal
    env = gym.make("EggHandOver-v0").unwrapped
    parts = env.state_layout.split(traj.states)
    assert np.all(parts.model_tag == env.state_layout.model_tag)
    np.testing.assert_array_equal(parts.goal, np.broadcast_to(source.goal, parts.goal.shape))
    np.testing.assert_array_equal(parts.step_count, np.arange(len(traj.states)))
    env.set_state(traj.states[5])
    np.testing.assert_array_equal(env.data.qpos, source.qpos[5])
    np.testing.assert_array_equal(env.data.qvel, source.qvel[5])
    # the rewards and labels of our own simulator agree exactly; a step lands where it should
    check = egg.verification
    assert check is not None and check.reward_max_error < 1e-12
    assert check.success_steps_agreeing == len(traj.actions)
    assert check.summary()["one_step_error_p90"] < 1e-3
    np.testing.assert_array_equal(traj.rewards, source.rewards)
    # HER+demos takes the dense task's imported folder for its sparse twin
    (demo, _) = load_demos(tmp_path / "out" / "EggHandOver-v0", "EggHandOverSparse-v0")
    np.testing.assert_array_equal(demo.states, load_trajectory(written["failure_1.pkl"].written).states)  # fmt: skip


def test_pen_spin_demonstration_drops_the_step_without_a_next_state(scdm_clone: Path, tmp_path: Path) -> None:  # fmt: skip
    results = import_scdm(scdm_clone / "TD3_plus_demos", tmp_path / "out", progress=False)
    (demo,) = results
    traj = load_trajectory(demo.written)
    assert traj.meta["env_id"] == "PenSpin-v0"
    assert len(traj.states) == 10 and len(traj.actions) == 9
    assert traj.meta["source"]["steps_dropped"] == 1
    assert np.all(np.isnan(traj.success))
    assert demo.verification is not None and demo.verification.observation_max_error == 0.0
    # imported folders are demonstrations for TD3+demos (and HER+demos) as they are
    (loaded,) = load_demos(tmp_path / "out" / "PenSpin-v0", "PenSpin-v0")
    np.testing.assert_array_equal(loaded.states, traj.states)


def test_hostile_pickle_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return os.system, (f"touch {marker}",)

    path = tmp_path / "EggHandOver-v0" / "success_1.pkl"
    path.parent.mkdir()
    path.write_bytes(pickle.dumps({"sim_states": Exploit()}))
    with pytest.raises(ScdmFileError, match=r"success_1\.pkl: refused to load the class (posix|os|nt)\.system"):  # fmt: skip
        load_scdm_pickle(path)
    assert not marker.exists()
    lines: list[str] = []
    assert import_scdm(path, tmp_path / "out", say=lines.append, progress=False)[0].written is None
    assert len(lines) == 1 and "refused to load the class" in lines[0]
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "objects.pkl"
    joblib.dump({"actions": np.array([{"a": 1}], dtype=object)}, path)
    with pytest.raises(ScdmFileError, match="only numeric arrays are allowed"):
        load_scdm_pickle(path)


def test_damaged_and_foreign_files_get_one_line_and_the_rest_imports(scdm_clone: Path, tmp_path: Path) -> None:  # fmt: skip
    folder = scdm_clone / "prerun_trajectories" / "EggHandOver-v0"
    good = folder / "success_1.pkl"
    (folder / "success_2.pkl").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    (folder / "success_3.pkl").write_bytes(b"not a pickle at all")
    joblib.dump([1, 2, 3], folder / "success_4.pkl")
    lines: list[str] = []
    results = import_scdm(folder, tmp_path / "out", say=lines.append, progress=False)
    assert [r.source.name for r in results if r.written] == ["failure_1.pkl", "success_1.pkl"]
    assert len(lines) == 3
    assert "success_2.pkl: damaged or truncated pickle" in lines[0]
    assert "success_3.pkl" in lines[1]
    assert "success_4.pkl: expected a dict of arrays, got list" in lines[2]


def test_nothing_in_out_is_overwritten(scdm_clone: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    folder = scdm_clone / "prerun_trajectories" / "EggHandOver-v0"
    import_scdm(folder, out, progress=False)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    lines: list[str] = []
    results = import_scdm(folder, out, say=lines.append, progress=False)
    assert all(r.written is None for r in results)
    assert all("exists already (not overwritten)" in line for line in lines) and len(lines) == 2
    assert {p: p.read_bytes() for p in before} == before


def test_disagreeing_file_is_flagged_in_its_sidecar(scdm_clone: Path, tmp_path: Path, mujoco_py_module: type) -> None:  # fmt: skip
    path = scdm_clone / "prerun_trajectories" / "EggHandOver-v0" / "success_1.pkl"
    data = load_scdm_pickle(path)
    data["rewards"] = [r + 0.5 for r in data["rewards"]]
    data["sim_states"] = [mujoco_py_module(s.time, s.qpos, s.qvel) for s in data["sim_states"]]
    joblib.dump(data, path)
    lines: list[str] = []
    (result,) = import_scdm(path, tmp_path / "out", say=lines.append, progress=False)
    assert result.written is not None
    assert "FLAGGED: reward error 0.5" in lines[0]
    sidecar = json.loads(result.written.with_suffix(".json").read_text())
    assert sidecar["verification"]["agrees"] is False
    assert sidecar["verification"]["problems"] == ["reward error 0.5 > 1e-09"]


def test_cli_table_report_minari_and_errors(scdm_clone: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    minari = pytest.importorskip("minari")
    out = tmp_path / "out"
    folder = scdm_clone / "prerun_trajectories" / "EggHandOver-v0"
    argv = ["import-scdm", str(folder), "--out", str(out), "--no-progress", "--minari",
            "--data-path", str(tmp_path / "minari"), "--strict"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    row = next(line for line in printed.splitlines() if line.startswith("| EggHandOver-v0 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "2" and float(cells[2]) < 1e-12 and cells[3] == "24/24 steps"
    assert cells[-1] == "0"  # no file flagged
    assert "dataset dexterous-gym/EggHandOver/topdm-authors-v0: 2 episodes, 24 steps" in printed
    report = json.loads((out / "import_report.json").read_text())
    assert report["tasks"][0]["files"] == 2 and len(report["files"]) == 2
    # the dataset reads back exactly: stored states, rewards, actions, observations of the states
    os.environ["MINARI_DATASETS_PATH"] = str(tmp_path / "minari")
    try:
        dataset = minari.load_dataset("dexterous-gym/EggHandOver/topdm-authors-v0")
        episodes = list(dataset.iterate_episodes())
    finally:
        del os.environ["MINARI_DATASETS_PATH"]
    trajs = [load_trajectory(out / "EggHandOver-v0" / f"{name}.npz") for name in ("failure_1", "success_1")]  # fmt: skip
    env = gym.make("EggHandOver-v0").unwrapped
    for episode, traj in zip(episodes, trajs, strict=True):
        np.testing.assert_array_equal(episode.actions, traj.actions)
        np.testing.assert_array_equal(episode.rewards, traj.rewards)
        np.testing.assert_array_equal(episode.infos["state"], traj.states)
        obs, _ = env.reset(options={"state": traj.states[3], "keep_step_count": True})
        np.testing.assert_array_equal(episode.observations["observation"][3], obs["observation"])
    # a second import into the same folder skips every file: --strict makes that exit 1
    assert main([*argv[:-4], "--strict"]) == 1
    # CLI mistakes: one line, exit 2
    assert main(["import-scdm", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().endswith("no such file or folder")
