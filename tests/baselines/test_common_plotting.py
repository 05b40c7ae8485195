"""The plotting command: grouping run folders and mean/band over seeds."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from baselines.common.plotting import aggregate, find_run_dirs, load_run, main
from baselines.common.runfolder import write_csv, write_json


def _fake_run(root, name, env, algo, seed, steps, success):
    run = root / name
    write_json(run / "config.json", {"env": env, "algo": algo, "seed": seed})
    rows = [
        {"timesteps": s, "success_final": v, "success_any": min(1.0, v + 0.1)}
        for s, v in zip(steps, success, strict=True)
    ]
    write_csv(run / "metrics.csv", rows)
    return run


def test_aggregate_mean_and_minmax_over_seeds(tmp_path):
    a = _fake_run(tmp_path, "a", "FetchReach-v4", "ddpg", 0, [100, 200, 300], [0.0, 0.5, 1.0])
    b = _fake_run(tmp_path, "b", "FetchReach-v4", "ddpg", 1, [100, 200], [0.2, 0.7])
    curve = aggregate([load_run(a), load_run(b)], "success_final", band="minmax")
    np.testing.assert_allclose(curve.steps, [100, 200, 300])
    np.testing.assert_allclose(curve.mean, [0.1, 0.6, 1.0])  # step 300: only run a reached it
    np.testing.assert_allclose(curve.low, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(curve.high, [0.2, 0.7, 1.0])
    np.testing.assert_array_equal(curve.n_runs, [2, 2, 1])
    std = aggregate([load_run(a), load_run(b)], "success_final", band="std")
    np.testing.assert_allclose(std.high - std.mean, [0.1, 0.1, 0.0])


def test_plot_command_writes_png_grouped_by_env_and_algo(tmp_path, capsys):
    _fake_run(tmp_path / "runs", "r0", "FetchReach-v4", "ddpg", 0, [100, 200], [0.1, 0.9])
    _fake_run(tmp_path / "runs", "r1", "FetchReach-v4", "ddpg", 1, [100, 200], [0.3, 1.0])
    _fake_run(tmp_path / "runs", "r2", "EggHandOverSparse-v0", "sac", 0, [100, 200], [0.0, 0.1])
    assert len(find_run_dirs([tmp_path / "runs"])) == 3
    out = tmp_path / "fig.png"
    assert (
        main(
            [str(tmp_path / "runs"), "--out", str(out), "--metric", "success_final", "success_any"]
        )
        == 0
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "FetchReach-v4 ddpg: 2 run(s), last step 200, mean 0.950" in printed
    assert "EggHandOverSparse-v0 sac: 1 run(s)" in printed


def test_plot_command_rejects_non_run_folder(tmp_path):
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--out", str(tmp_path / "x.png")])


def test_table_gives_final_best_and_first_step_above_the_reference(tmp_path):
    _fake_run(tmp_path / "runs", "r0", "PenSpin-v0", "td3", 0, [100, 200, 300, 400], [0.1, 0.9, 0.5, 0.6])  # fmt: skip
    _fake_run(tmp_path / "runs", "r1", "PenSpin-v0", "td3", 1, [100, 200], [0.1, 0.2])
    table_path = tmp_path / "table.md"
    argv = [str(tmp_path / "runs"), "--out", str(tmp_path / "fig.png"), "--hline", "0.55", "ref",
            "--table", str(table_path)]  # fmt: skip
    assert main(argv) == 0
    lines = table_path.read_text().splitlines()
    assert "first step >= 0.55" in lines[0] and len(lines) == 4
    # final 0.60, best 0.90 at step 200, mean of the last 5 (all 4) 0.525, first >= 0.55 at 200
    assert "| 0.60 | 0.90 (200) | 0.53 | 200 |" in lines[2]
    assert "| 0.20 | 0.20 (200) | 0.15 | never |" in lines[3]


def test_ylim_is_checked_and_applied(tmp_path):
    _fake_run(tmp_path / "runs", "r0", "PenSpin-v0", "td3", 0, [100, 200], [0.1, 0.9])
    out = tmp_path / "fig.png"
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "runs"), "--out", str(out), "--ylim", "5", "1"])
    assert exc.value.code == 2 and not out.exists()
    assert main([str(tmp_path / "runs"), "--out", str(out), "--ylim", "0", "2"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_efficiency_compares_the_steps_to_the_reference_final_level(tmp_path, capsys):
    runs = tmp_path / "runs"
    for seed, late in ((0, 0.6), (1, 0.8)):  # reference: mean final 0.7, reached at step 200
        _fake_run(runs, f"p{seed}", "FetchPush-v4", "PlanGAN", seed, [100, 200], [0.2, late])
    # the other reaches 0.7 (mean) half-way between 600 and 1000; a third never does
    _fake_run(runs, "h0", "FetchPush-v4", "ddpg", 0, [200, 600, 1000], [0.1, 0.5, 0.9])
    _fake_run(runs, "s0", "FetchPush-v4", "sac", 0, [200, 400], [0.1, 0.2])
    out = tmp_path / "fig.png"
    assert main([str(runs), "--out", str(out), "--efficiency", "PlanGAN"]) == 0
    printed = capsys.readouterr().out
    assert "PlanGAN final 0.700 at 200 steps; ddpg: 800 steps, ratio 4.00x" in printed
    assert "sac: not within its 400 steps" in printed
    with pytest.raises(SystemExit) as exc:  # an algorithm without runs is a one-line error
        main([str(runs), "--out", str(out), "--efficiency", "TD3"])
    assert exc.value.code == 2


def test_reference_points_are_drawn_and_checked(tmp_path, capsys, monkeypatch):
    import matplotlib.axes

    _fake_run(tmp_path / "runs", "r0", "PenSpin-v0", "td3", 0, [100, 200], [0.1, 0.9])
    out = tmp_path / "fig.png"
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "runs"), "--out", str(out), "--points", "paper", "3e6-50"])
    assert exc.value.code == 2 and not out.exists()
    assert "expected X:Y numbers such as 4e6:1400, got '3e6-50'" in capsys.readouterr().err
    drawn = []
    original = matplotlib.axes.Axes.plot

    def spy(self, *args, **kwargs):
        drawn.append((args, kwargs.get("label")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", spy)
    argv = [str(tmp_path / "runs"), "--out", str(out), "--points", "paper", "100:0.2", "2e2:0.8"]
    assert main(argv) == 0
    ((xs, ys, marker), _label) = next(d for d in drawn if d[1] == "paper")
    assert (xs, ys, marker) == ((100.0, 200.0), (0.2, 0.8), "o")


def test_her_runs_are_labelled_by_learner_and_non_default_preset():
    from baselines.common.plotting import algorithm_label

    her = {"runner": "baselines.her", "algo": "ddpg"}
    assert algorithm_label(her) == "DDPG+HER"
    assert algorithm_label({**her, "preset": "single"}) == "DDPG+HER"
    assert algorithm_label({**her, "preset": "plappert"}) == "DDPG+HER (plappert)"
    assert algorithm_label({"algorithm": "TD3+demos", "preset": "paper"}) == "TD3+demos"
