"""The experiment commands at their smoke presets: what they write, and the sweep's contract."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("matplotlib")

from swarm_gym import experiments as E


def test_reproduce_smoke_writes_metrics_plot_and_gif(tmp_path):
    res = E.reproduce("smoke", tmp_path)
    for name in (
        "reproduce_seed0.csv",
        "reproduce_summary.json",
        "order_parameter.png",
        "flock.gif",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    assert 0.0 <= res["seeds"]["0"]["order_parameter"]["mean"] <= 1.0
    rows = (tmp_path / "reproduce_seed0.csv").read_text().splitlines()
    assert len(rows) == 1 + 1 + E.PRESETS["reproduce"]["smoke"]["steps"]  # header, t = 0..steps


def test_steer_smoke_reports_every_variant_and_seed(tmp_path):
    res = E.steer("smoke", tmp_path, gif=False)
    p = E.PRESETS["steer"]["smoke"]
    assert sorted(r["variant"] for r in res["turn"]) == sorted(p["turn_variants"])
    assert [(r["path"], r["seed"]) for r in res["path"]] == [
        (name, seed) for name in p["paths"] for seed in p["seeds"]
    ]
    assert (tmp_path / "steering.png").exists() and not list(tmp_path.glob("steer_path*.gif"))
    saved = json.loads((tmp_path / "steer_summary.json").read_text())
    E.steer("smoke", tmp_path / "gif", gif=True)  # one GIF per path, of its first seed
    assert [f.name for f in (tmp_path / "gif").glob("*.gif")] == ["steer_path_short.gif"]
    assert saved["turn"][0]["n_informed"] == round(p["fraction"] * p["n_agents"])


def test_sweep_matches_the_single_run_and_writes_json(tmp_path):
    variants = {"none": {"fraction": 0.1, "strength": 0.0},
                "gated": {"fraction": 0.2, "strength": 10.0, "gate": 0.3}}  # fmt: skip
    out = tmp_path / "sweep.json"
    res = E.sweep(variants, [0], out, jobs=2, preset="smoke")
    saved = json.loads(out.read_text())
    assert set(saved["success"]) == set(variants) and len(saved["runs"]) == 2
    # a worker process (one numba thread) gives what an in-process run gives
    p = {**E.PRESETS["steer"]["smoke"], "variants": variants}
    direct = E.steer_turn(p, 0, "gated")
    swept = next(r for r in res["runs"] if r["variant"] == "gated")
    for key in (
        "steps_to_within_20deg",
        "final_heading_error_deg",
        "order_parameter_min_after_turn",
    ):
        assert swept[key] == direct[key]


def test_sweep_rejects_bad_variants_and_arguments(tmp_path, capsys):
    with pytest.raises(ValueError, match="variant 'x'"):
        E.sweep({"x": {"strenght": 1.0}}, [0], tmp_path / "s.json", preset="smoke")
    with pytest.raises(SystemExit):
        E.main(["sweep", "--out", str(tmp_path / "s.json")])
    assert "--variants" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(SystemExit):
        E.main(["sweep", "--variants", str(bad), "--out", str(tmp_path / "s.json")])
    assert "expected a JSON object" in capsys.readouterr().err
