"""Record and train commands of the FSM heuristic, and the numba inference against torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from baselines.swarm_heuristic import record, train
from baselines.swarm_heuristic.dataset import load_run, load_samples, run_path

torch = pytest.importorskip("torch")


def _record(out: Path, *extra: str) -> int:
    return record.main(["--preset", "smoke", "--out", str(out), *extra])


def test_record_smoke_is_resumable_and_holds_the_fsm_decisions(tmp_path: Path) -> None:
    from swarm_gym import FSMSwarm

    out = tmp_path / "data"
    assert _record(out) == 0
    first = run_path(out, 0).read_bytes()
    assert _record(out, "--resume", "--runs", "3") == 0
    assert run_path(out, 0).read_bytes() == first  # complete runs are not recorded again
    assert json.loads((out / "config.json").read_text())["runs"] == 3
    assert _record(out) == 2  # an occupied folder is refused without --resume
    assert _record(out, "--resume", "--steps", "5") == 2  # other settings are refused
    run = load_run(run_path(out, 1))
    sw = FSMSwarm(8, 2, seed=101)
    for t in range(10):
        dec = sw.decide()
        assert np.array_equal(run["action"][t], dec.action)
        assert np.array_equal(run["counts"][t], dec.counts)
        assert np.array_equal(run["keys"][t], sw.visual()[0])
        tied = ((run["tied"][t][:, None] >> np.arange(5)) & 1).astype(bool)
        assert np.array_equal(tied, dec.tied)
        sw.step()
    assert np.array_equal(run["prev_keys"][0], run["keys"][0])
    assert np.array_equal(run["prev_keys"][1:], run["keys"][:-1])
    samples = load_samples(out)
    assert samples.x.shape == (3 * 10 * 8, 80) and set(samples.run.tolist()) == {0, 1, 2}
    run_path(out, 2).write_bytes(b"damaged")
    with pytest.raises(ValueError, match=r"run_0002\.npz is damaged"):
        load_run(run_path(out, 2))


def _torch_model(arrays: dict[str, np.ndarray]) -> Any:
    layers: list[Any] = []
    k = 0
    while f"w{k}" in arrays:
        w, b = arrays[f"w{k}"], arrays[f"b{k}"]
        lin = torch.nn.Linear(w.shape[0], w.shape[1]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.astype(np.float64)))
            lin.bias.copy_(torch.from_numpy(b.astype(np.float64)))
        layers += [lin, torch.nn.ReLU()]
        k += 1
    return torch.nn.Sequential(*layers[:-1])


def test_train_smoke_and_inference_equals_torch(tmp_path: Path) -> None:
    from swarm_gym import FSMSwarm
    from swarm_gym.heuristic import HeuristicPolicy

    data = tmp_path / "data"
    assert _record(data, "--runs", "3") == 0
    out = tmp_path / "train"
    args = ["--data", str(data), "--out", str(out), "--test-runs", "1", "--epochs", "2",
            "--hidden", "16,8"]  # fmt: skip
    assert train.main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["splits"] == {"train": [0], "val": [1], "test": [2]}
    assert 0.0 <= summary["chosen"]["test_top1"] <= summary["chosen"]["test_tied"] <= 1.0
    pol = HeuristicPolicy.load(out / "weights.npz")
    assert [w.shape[1] for w in pol.weights] == [16, 8, 5]
    with np.load(out / "weights.npz") as f:
        model = _torch_model({k: f[k] for k in f.files})
    bits = load_samples(data).x[:200]
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(bits.astype(np.float64))), dim=1)
    np.testing.assert_allclose(pol.probabilities(bits), expected.numpy(), rtol=1e-10,
                               atol=1e-12)  # fmt: skip
    # a DAgger recording: the heuristic flies, the FSM labels
    dagger = tmp_path / "dagger"
    assert _record(dagger, "--runs", "1", "--weights", str(out / "weights.npz")) == 0
    run = load_run(run_path(dagger, 0))
    sw = FSMSwarm(8, 2, seed=100, policy="heuristic", weights=out / "weights.npz")
    assert np.array_equal(run["moved"], sw.run(10)["actions"])
    assert train.main([*args[:2], "--out", str(tmp_path / "t2"), *args[4:], "--extra-data",
                       str(dagger)]) == 0  # fmt: skip


def test_record_and_train_the_continuous_model(tmp_path: Path) -> None:
    from swarm_gym import FSMSwarm
    from swarm_gym.heuristic import HeuristicPolicy

    data = tmp_path / "data"
    assert _record(data, "--runs", "3", "--model", "continuous") == 0
    assert json.loads((data / "config.json").read_text())["model"] == "continuous"
    run = load_run(run_path(data, 0))
    assert run["meta"]["config"]["model"] == "continuous"
    sw = FSMSwarm(8, 2, seed=100, model="continuous")
    for t in range(10):  # the labels are the continuous model's choices and W-ties
        dec = sw.decide()
        assert np.array_equal(run["action"][t], dec.action)
        tied = ((run["tied"][t][:, None] >> np.arange(5)) & 1).astype(bool)
        assert np.array_equal(tied, dec.tied)
        sw.step()
    out = tmp_path / "train"
    args = ["--data", str(data), "--out", str(out), "--test-runs", "1", "--epochs", "1",
            "--hidden", "8"]  # fmt: skip
    assert train.main(args) == 0
    assert HeuristicPolicy.load(out / "weights.npz").meta["model"] == "continuous"
    discrete = tmp_path / "discrete"
    assert _record(discrete, "--runs", "1") == 0
    mixed = tmp_path / "mixed"  # decisions of two models are refused before anything is written
    assert train.main([*args[:2], "--out", str(mixed), *args[4:], "--extra-data",
                       str(discrete)]) == 2  # fmt: skip
    assert not mixed.exists()


@pytest.mark.parametrize("command", ["closure", "continuous", "continuous-heuristic"])
def test_comparison_commands_compare_with_the_fsm_runs(tmp_path: Path, command: str, capsys) -> None:  # fmt: skip
    from baselines.swarm_heuristic import evaluate

    fsm_dir = tmp_path / "fsm"
    fsm_dir.mkdir()
    header = "order_parameter,mean_nn_distance,opacity,largest_cluster_fraction,t\n"
    for seed in (0, 1, 2):  # stand-ins for the reproduce CSVs of python -m swarm_gym.experiments
        rows = "".join(f"0.9,7.0,0.4,1.0,{t}\n" for t in range(4))
        (fsm_dir / f"{evaluate.MODES[command].reference}_seed{seed}.csv").write_text(header + rows)
    out = tmp_path / command
    argv = [command, "--out", str(out), "--steps", "3", "--gif-steps", "0", "--fsm-dir", str(fsm_dir)]  # fmt: skip
    assert evaluate.main(argv) == 0
    # 3 steps never pass the burn-in: the NaN statistics are announced, not left silent
    assert "does not pass the burn-in of 200 steps" in capsys.readouterr().err
    mode = evaluate.MODES[command]
    summary = json.loads((out / f"{mode.summary}_summary.json").read_text())
    assert set(summary[mode.label]) == set(summary["fsm"]) == {"0", "1", "2"}
    rows = (out / f"{mode.label}_seed0.csv").read_text().splitlines()
    assert len(rows) == 5 and (out / f"{mode.summary}.png").exists()
