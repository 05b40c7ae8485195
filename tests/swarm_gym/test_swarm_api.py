"""The public contract: the read-only swarm view, frozen steering settings, the kernel record, the
module boundaries and the experiments' presets and command line."""

from __future__ import annotations

import ast
import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from swarm_gym import FSMSwarm, Steering, SteeringConfig, SteeringHook, SwarmConfig, SwarmView
from swarm_gym.kernel_params import KernelParams, kernel_params

PACKAGE = Path(__file__).resolve().parents[2] / "swarm_gym"


def test_view_is_read_only_and_not_a_copy():
    sw = FSMSwarm(n_agents=6, horizon=1, seed=0)
    view = sw.view
    for name in ("positions", "headings", "speeds"):
        arr = getattr(view, name)
        np.testing.assert_array_equal(arr, getattr(sw, name))
        assert not arr.flags.writeable, name
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 1.0
    assert np.shares_memory(view.positions, view.positions)  # the same buffer every time
    assert (view.config, view.n_agents, view.t) == (sw.config, 6, 0)
    assert isinstance(view, SwarmView) and isinstance(sw, SwarmView)  # both satisfy the protocol
    assert isinstance(Steering(), SteeringHook)
    np.testing.assert_array_equal(view.visual_bits(), sw.visual_bits())


def test_view_arrays_read_before_a_step_keep_their_values():
    sw = FSMSwarm(n_agents=6, horizon=1, seed=0)
    before = sw.view.positions
    copy = before.copy()
    sw.step()
    np.testing.assert_array_equal(before, copy)
    assert not np.array_equal(sw.view.positions, copy)
    assert sw.view.t == 1


def test_steering_hooks_receive_the_read_only_view():
    seen = []

    class Recorder:
        def reset(self, swarm):
            seen.append(("reset", swarm.t, swarm.positions.flags.writeable))

        def adjust(self, swarm, counts, scores, action, uniforms=None):
            seen.append(("adjust", swarm.t, swarm.headings.flags.writeable))
            return action

        def after_step(self, swarm):
            seen.append(("after_step", swarm.t, swarm.speeds.flags.writeable))

    sw = FSMSwarm(n_agents=5, horizon=1, seed=0, steering=Recorder())
    sw.step()
    assert seen == [("reset", 0, False), ("adjust", 0, False), ("after_step", 1, False)]
    np.testing.assert_array_equal(
        sw.positions, FSMSwarm(n_agents=5, horizon=1, seed=0).run(1)["positions"][1]
    )


def test_steering_config_is_frozen_and_separate_from_run_state():
    cfg = SteeringConfig(fraction=0.25, strength=1.0, waypoints=[[60, 50], [500, 500.5]])
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.strength = 2.0  # type: ignore[misc]
    assert cfg.waypoints == ((60.0, 50.0), (500.0, 500.5)) and hash(cfg)
    st = Steering(cfg)
    assert st.config is cfg and st.informed.size == 0 and st.reached_at == []
    assert st.waypoints is not None and not st.waypoints.flags.writeable
    a = FSMSwarm(n_agents=8, horizon=1, seed=0, steering=st).run(3)["positions"]
    b = FSMSwarm(n_agents=8, horizon=1, seed=0, steering=Steering(**dataclasses.asdict(cfg)))
    np.testing.assert_array_equal(a, b.run(3)["positions"])
    assert Steering(cfg, strength=3.0).config.strength == 3.0 and cfg.strength == 1.0


def test_steering_config_rejects_bad_and_unknown_settings():
    with pytest.raises(TypeError, match="strenght"):
        Steering(strenght=1.0)
    with pytest.raises(TypeError, match="SteeringConfig"):
        Steering(0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="waypoints"):
        SteeringConfig(waypoints=[1.0, 2.0])
    with pytest.raises(ValueError, match="gate"):
        SteeringConfig().replace(gate=0.0)
    assert SteeringConfig(turn_step=5, turn_angle=1.0).direction(5) == 1.0


def test_kernel_params_are_named_and_typed():
    kp = kernel_params(SwarmConfig.create(n_agents=4, horizon=3, radius=1, v0=10, dv=2))
    assert isinstance(kp, KernelParams)
    assert type(kp.radius) is float and type(kp.v0) is float and type(kp.tau) is int
    assert (kp.tau, kp.n_sensors, kp.halfwidth, kp.swept, kp.count_mode) == (3, 40, 0, 0, 0)
    assert kp.early_exit is True and kp.continuous is False and kp.collect_leaf is False
    assert kp.cull2 > (2 * 1.0 + 22.0) ** 2 and kp.table_size & (kp.table_size - 1) == 0
    np.testing.assert_array_equal(kp.speeds, [10, 10, 8, 10, 12])
    kp = kernel_params(SwarmConfig.create(model="continuous"), collect_leaf=True)
    assert kp.continuous is True and kp.collect_leaf is True


def _private_accesses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_reaches_into_another_objects_private_attributes():
    offenders = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "model.py"
        for hit in _private_accesses(path)
    ]
    assert offenders == []


def test_simulator_and_steering_do_not_import_each_other():
    def imported(path: Path) -> set[str]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        return names

    assert "swarm_gym.steering" not in imported(PACKAGE / "model.py")
    assert "swarm_gym.model" not in imported(PACKAGE / "steering.py")
    assert not {"swarm_gym.model", "swarm_gym.steering"} & imported(PACKAGE / "view.py")


def test_presets_are_typed_and_their_dict_form_round_trips():
    from swarm_gym import experiments as E

    for name, preset in E.STEER_PRESETS.items():
        assert E.SteerPreset.from_dict(E.PRESETS["steer"][name]) == preset
        preset.check_names()
    for name, preset in E.REPRODUCE_PRESETS.items():
        assert E.PRESETS["reproduce"][name] == preset.to_dict()
    paper = E.STEER_PRESETS["paper"]
    assert isinstance(paper.paths["gentle"], E.PathSpec)
    assert paper.settings("belief") == {"fraction": 0.1, "strength": 0.0,
                                        "belief_turn": math.pi / 6, "lead_distance": 60.0}  # fmt: skip
    with pytest.raises(ValueError, match="variant 'bad'"):
        paper.with_variants({"bad": {"gate": -1.0}})
    with pytest.raises(ValueError, match="unknown variant"):
        paper.with_variants({"control": {}}).check_names()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bogus"], "invalid choice"),
        (["reproduce", "--preset", "huge"], "--preset"),
        (["sweep"], "--variants"),
        (["sweep", "--variants", "/nonexistent.json"], "cannot read"),
        (["steer", "--jobs", "x"], "--jobs"),
    ],
)
def test_cli_mistakes_exit_2_with_one_line(args, message):
    proc = subprocess.run(
        [sys.executable, "-m", "swarm_gym.experiments", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=PACKAGE.parent,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert proc.stdout == ""


def test_cli_rejects_bad_sweep_settings_in_one_line(tmp_path, capsys):
    from swarm_gym.experiments import main

    variants = tmp_path / "v.json"
    cases = [
        ('{"x": {"strenght": 1.0}}', [], "variant 'x'"),
        ('{"x": {"gate": -1}}', [], "gate"),
        ('{"x": {}}', ["--jobs", "0"], "--jobs"),
        ('{"x": {}}', ["--seeds", "-1"], "--seeds"),
        ('{"x": {}}', ["--out", str(tmp_path)], "--out"),
    ]
    for text, extra, message in cases:
        variants.write_text(text)
        with pytest.raises(SystemExit) as exc:
            main(["sweep", "--variants", str(variants), "--out", str(tmp_path / "s.json"), *extra])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


def test_registered_episode_length_is_the_truncation_step() -> None:
    import gymnasium as gym

    import swarm_gym

    swarm_gym.register_envs()
    for env_id in ("FSMSwarm-v0", "FSMFocal-v0"):
        assert gym.spec(env_id).max_episode_steps == 1000


def test_cli_out_and_resume_agree_with_the_other_clis(tmp_path, capsys):
    from swarm_gym.experiments import main

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("finished work")
    (tmp_path / "hidden").mkdir()
    (tmp_path / "hidden" / ".lock").write_text("")
    cases = [
        (
            ["reproduce", "--out", str(busy)],
            f"--out {busy} is not empty (notes.txt); choose a new or empty folder",
        ),
        (["correlations", "--out", str(busy)], "or pass --resume"),
        (
            ["correlations", "--resume", "--out", str(tmp_path / "missing")],
            "holds no experiment to continue",
        ),
        (
            ["correlations", "--resume", "--out", str(tmp_path / "hidden")],
            "holds no experiment to continue",
        ),
        (
            ["steer", "--resume", "--out", str(tmp_path / "x")],
            "--resume continues a correlations experiment",
        ),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert exc.value.code == 2 and len(err) == 1 and message in err[0], (argv, err)
    assert (busy / "notes.txt").read_text() == "finished work" and not (
        tmp_path / "missing"
    ).exists()
