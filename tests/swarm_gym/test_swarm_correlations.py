"""The correlation-length experiment: the estimator, the slope fit, recording and resuming."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from swarm_gym.experiments import correlations as C
from swarm_gym.experiments.cli import main

TINY = C.CorrelationPreset(fsm_sizes=(8,), heuristic_sizes=(10,), horizon=2, steps=8, burn_in=2,
                           every=3, seeds=(0,), n_bins=6)  # fmt: skip


def _flock(n: int, size: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A flock of linear size ``size`` whose velocity fluctuations rotate with x (one wave)."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, size, (n, 2))
    angle = 0.3 * np.cos(2 * np.pi * pos[:, 0] / size)
    vel = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return pos, vel


def test_correlation_length_scales_with_the_flock() -> None:
    # the same flock, twice as large: xi doubles (C is a function of r / L here), L doubles
    pos, vel = _flock(200, 100.0)
    small = C.frame_correlation(pos, vel, n_bins=20, link=1e9)
    large = C.frame_correlation(2 * pos, vel, n_bins=20, link=1e9)
    assert small["n"] == 200 and 0 < small["xi"] < small["L"]
    assert large["xi"] == pytest.approx(2 * small["xi"])
    assert large["L"] == pytest.approx(2 * small["L"])
    # the largest cluster is selected: a far-away straggler does not count towards L
    pos_out = np.vstack([pos, [[5000.0, 5000.0]]])
    vel_out = np.vstack([vel, [[1.0, 0.0]]])
    alone = C.frame_correlation(pos_out, vel_out, n_bins=20, link=200.0)
    assert alone["n"] == 200 and alone["L"] == pytest.approx(small["L"])


def test_slope_fit() -> None:
    lengths = np.array([10.0, 20.0, 40.0, 80.0, np.nan])
    fit = C.fit_slope(lengths, 0.3 * lengths + 2.0)
    assert fit["slope"] == pytest.approx(0.3) and fit["intercept"] == pytest.approx(2.0)
    assert fit["r2"] == pytest.approx(1.0) and fit["n_points"] == 4
    assert math.isnan(C.fit_slope(np.array([5.0]), np.array([1.0]))["slope"])


def test_presets_are_checked() -> None:
    with pytest.raises(ValueError, match="burn_in must lie in"):
        C.CorrelationPreset(fsm_sizes=(10,), heuristic_sizes=(), horizon=2, steps=5, burn_in=6, every=1, seeds=(0,))  # fmt: skip
    with pytest.raises(ValueError, match="sizes must be >= 3"):
        C.CorrelationPreset(fsm_sizes=(2,), heuristic_sizes=(), horizon=2, steps=5, burn_in=0, every=1, seeds=(0,))  # fmt: skip
    with pytest.raises(ValueError, match="model must be one of"):
        C.CorrelationPreset(**{**TINY.to_dict(), "model": "bogus"})


def test_the_continuous_model_flies_its_own_fsm_and_heuristic(tmp_path: Path) -> None:
    from swarm_gym import FSMSwarm

    preset = C.CorrelationPreset(**{**TINY.to_dict(), "fsm_sizes": (8,), "heuristic_sizes": (10,),
                                    "seeds": (0,), "model": "continuous"})  # fmt: skip
    for policy, n in (("fsm", 8), ("heuristic", 10)):
        run = C.record_run(preset, policy, n, 0)
        swarm = FSMSwarm(n, 2, seed=0, policy=policy, box=C.start_box(n), model="continuous")
        swarm.run(8)
        np.testing.assert_array_equal(run["positions"][-1], swarm.positions.astype(np.float32))
    out = tmp_path / "corr"
    C.record(preset, out, progress=False)
    assert C.analyse(out)["model"] == "continuous"
    # runs of the two models do not mix in one analysis
    (discrete,) = C.record(C.CorrelationPreset(**{**TINY.to_dict(), "fsm_sizes": (8,), "heuristic_sizes": (), "seeds": (0,)}),
                           tmp_path / "discrete", progress=False)  # fmt: skip
    C.run_file(out, "fsm", 8, 5).write_bytes(discrete.read_bytes())
    with pytest.raises(ValueError, match="several FSM models"):
        C.analyse(out)


def test_record_resume_and_analyse(tmp_path: Path) -> None:
    out = tmp_path / "corr"
    files = C.record(TINY, out, progress=False)
    assert [f.name for f in files] == ["fsm_n8_s0.npz", "heuristic_n10_s0.npz"]
    arrays, meta = C.load_run(files[0])
    assert list(arrays["t"]) == [2, 5, 8] and arrays["positions"].shape == (3, 8, 2)
    assert meta["policy"] == "fsm" and meta["preset"] == TINY.to_dict()
    # the same seed records the same run
    again = C.record_run(TINY, "fsm", 8, 0)
    np.testing.assert_array_equal(again["positions"], arrays["positions"])

    with pytest.raises(ValueError, match="holds a correlations experiment already"):
        C.record(TINY, out, progress=False)
    # resume keeps what is finished and records only what is missing
    kept = files[0].read_bytes()
    files[1].unlink()
    C.record(TINY, out, resume=True, progress=False)
    assert files[0].read_bytes() == kept and files[1].exists()
    other = C.CorrelationPreset(**{**TINY.to_dict(), "steps": 9, "fsm_sizes": (8,), "heuristic_sizes": (10,), "seeds": (0,)})  # fmt: skip
    with pytest.raises(ValueError, match=r"other settings \(steps\)"):
        C.record(other, out, resume=True, progress=False)

    summary = C.analyse(out)
    assert [(s["policy"], s["n_agents"], s["frames"]) for s in summary["sizes"]] == [("fsm", 8, 3), ("heuristic", 10, 3)]  # fmt: skip
    assert (out / "correlations.csv").read_text().count("\n") == 7  # header + 6 frames

    files[1].write_bytes(b"not a run")
    with pytest.raises(ValueError, match=r"heuristic_n10_s0\.npz: not a readable correlations run"):
        C.analyse(out)


def test_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as exc:
        main(["correlations", "--out", str(tmp_path / "file")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--out must be a folder" in err and err.count("\n") == 1
