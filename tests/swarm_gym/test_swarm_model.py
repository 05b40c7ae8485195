"""The simulator: configuration checks, determinism, decision rule, metrics, steering."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from swarm_gym import FSMSwarm, Steering, SwarmConfig
from swarm_gym import metrics as M
from swarm_gym.decision import choose


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_agents": 1}, "n_agents"),
        ({"radius": 0.0}, "radius"),
        ({"radius": -1.0}, "radius"),
        ({"v0": 0.0}, "v0"),
        ({"v0": -3.0}, "v0"),
        ({"horizon": 0}, "horizon"),
        ({"tie_break": "random"}, "tie_break"),
        ({"variant": "python"}, "variant"),
        ({"colour": "red"}, "colour"),
        ({"n_sensors": 64}, "n_sensors"),
        ({"dv": 10.0}, "dv"),
    ],
)
def test_bad_parameters_raise_value_error(kwargs, name):
    with pytest.raises(ValueError, match=name):
        FSMSwarm(**kwargs)


def test_bad_parameters_fail_before_compilation(monkeypatch):
    import swarm_gym.kernels as k

    def boom(*a, **kw):  # pragma: no cover - must not be reached
        raise AssertionError("kernel called")

    monkeypatch.setattr(k, "branch_scores_against", boom)
    with pytest.raises(ValueError, match="horizon"):
        FSMSwarm(n_agents=5, horizon=-2)


def test_clean_variant_preset_and_override():
    clean = SwarmConfig.create(variant="clean")
    assert (clean.swept_test, clean.early_exit, clean.halfwidth, clean.tie_break) == (
        "robust", False, "asin", "uniform")  # fmt: skip
    assert SwarmConfig.create(variant="clean", halfwidth="atan").halfwidth == "atan"
    assert SwarmConfig.create().swept_test == "slope"


def test_cpp_tie_rule():
    u = np.array([0.2, 0.7, 0.1, 0.1, 0.1, 0.9])
    scores = np.array(
        [
            [5, 5, 1, 1, 1],  # both turns: right if u < 0.5
            [5, 5, 1, 1, 1],  # ... else left
            [3, 5, 5, 5, 5],  # a turn beats speed moves
            [3, 2, 5, 5, 5],  # slow beats keep beats fast
            [3, 2, 1, 5, 5],  # keep beats fast
            [4, 4, 9, 1, 1],  # n0 == n1 but not maximal: slow
        ],
        dtype=float,
    )
    assert choose(scores, u, "cpp").tolist() == [0, 1, 1, 2, 3, 2]


def test_uniform_tie_rule_picks_every_maximal_move():
    scores = np.tile([[1.0, 5.0, 5.0, 2.0, 5.0]], (300, 1))
    u = np.random.default_rng(0).random(300)
    picks = choose(scores, u, "uniform")
    assert set(picks.tolist()) == {1, 2, 4}


def test_isolated_agents_turn_every_step():
    # two agents 10^4 apart: each sees nothing, all branches count 1, so each turns +-15 degrees
    sw = FSMSwarm(n_agents=2, horizon=2, seed=1)
    sw.set_state(np.array([[0.0, 0.0], [1e4, 0.0]]), np.zeros(2))
    for _ in range(5):
        dec = sw.decide()
        assert dec.counts.tolist() == [[1] * 5, [1] * 5]
        before = sw.headings
        sw.step()
        assert np.allclose(np.abs(sw.headings - before), math.pi / 12)


def test_same_seed_same_trajectory_and_thread_independence():
    def run(threads):
        old = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            sw = FSMSwarm(n_agents=16, horizon=3, seed=42)
            out = sw.run(12)
        finally:
            numba.set_num_threads(old)
        return out

    a = run(1)
    b = run(min(2, numba.config.NUMBA_NUM_THREADS))
    c = run(1)
    for key in ("positions", "headings", "actions"):
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(a[key], c[key])
    d = FSMSwarm(n_agents=16, horizon=3, seed=43).run(3)
    assert not np.array_equal(a["positions"][:4], d["positions"])


def test_step_moves_agents_synchronously():
    sw = FSMSwarm(n_agents=6, horizon=1, seed=0)
    p0, th0 = sw.positions, sw.headings
    acts = np.array([0, 1, 2, 3, 4, 3])
    sw.step(acts)
    dth = np.array([-1, 1, 0, 0, 0, 0]) * math.pi / 12
    speed = np.array([10, 10, 8, 10, 12, 10.0])
    np.testing.assert_allclose(sw.headings, th0 + dth)
    exp = p0 + speed[:, None] * np.stack([np.cos(th0 + dth), np.sin(th0 + dth)], 1)
    np.testing.assert_allclose(sw.positions, exp)
    np.testing.assert_allclose(sw.speeds, speed)
    with pytest.raises(ValueError, match="actions"):
        sw.step(np.array([0, 1, 5, 0, 0, 0]))
    with pytest.raises(ValueError, match="actions"):
        sw.step(np.zeros(5, dtype=int))
    np.testing.assert_allclose(sw.positions, exp)  # unchanged by the failed calls


def test_noise_changes_the_motion():
    quiet = FSMSwarm(n_agents=4, horizon=1, seed=5)
    noisy = FSMSwarm(n_agents=4, horizon=1, seed=5, turn_noise=0.1, speed_noise=0.5)
    quiet.step(np.array([0, 1, 2, 3]))
    noisy.step(np.array([0, 1, 2, 3]))
    assert not np.allclose(quiet.headings[:2], noisy.headings[:2])
    np.testing.assert_allclose(
        quiet.headings[2:], noisy.headings[2:]
    )  # no turn noise on speed moves
    assert noisy.speeds[0] == 10.0 and noisy.speeds[2] != 8.0


def test_reject_overlap_initial_positions():
    sw = FSMSwarm(n_agents=60, horizon=1, seed=0, init_overlap="reject")
    assert M.overlapping_pairs(sw.positions) == 0
    assert M.overlapping_pairs(FSMSwarm(n_agents=60, horizon=1, seed=0).positions) > 0


def test_metrics_on_known_configurations():
    assert M.order_parameter(np.zeros(10)) == pytest.approx(1.0)
    assert M.order_parameter(np.array([0.0, math.pi])) == pytest.approx(0.0, abs=1e-12)
    pos = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 7.0]])
    np.testing.assert_allclose(M.nearest_neighbour_distances(pos), [3, 3, 7])
    assert M.overlapping_pairs(np.array([[0.0, 0], [1.5, 0], [5, 0]])) == 1
    # one neighbour at distance d covers 2 atan(1/d) of 2 pi
    cov = M.coverage(np.array([[0.0, 0.0], [5.0, 0.0]]))
    np.testing.assert_allclose(cov, 2 * math.atan(0.2) / (2 * math.pi))
    labels = M.cluster_labels(np.array([[0.0, 0], [20, 0], [40, 0], [500, 0]]), link=30)
    assert labels[0] == labels[1] == labels[2] != labels[3]
    assert M.zero_crossing(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.5, -0.5])) == 2.5
    assert math.isnan(M.zero_crossing(np.array([1.0, 2.0]), np.array([1.0, 0.5])))


def test_velocity_correlation_detects_domains():
    # two groups moving in opposite directions far apart: C > 0 at short r, < 0 at long r
    rng = np.random.default_rng(0)
    pos = np.vstack([rng.normal(0, 3, (20, 2)), rng.normal(100, 3, (20, 2))])
    vel = np.vstack([np.tile([1.0, 0.2], (20, 1)), np.tile([1.0, -0.2], (20, 1))])
    r, c, _ = M.velocity_correlation(pos, vel, n_bins=10)
    assert c[0] > 0.5 and c[-1] < -0.5
    assert 0 < M.zero_crossing(r, c) < r[-1]


def test_swarm_flocks_quickly():
    sw = FSMSwarm(n_agents=20, horizon=3, seed=0)
    sw.run(40)
    m = sw.metrics()
    assert m["order_parameter"] > 0.8
    assert 2.0 < m["mean_nn_distance"] < 20.0
    assert 0.0 < m["opacity"] < 1.0 and 0.0 < m["sensor_on_fraction"] < 1.0


def test_steering_biases_informed_agents():
    st = Steering(fraction=0.5, strength=5.0, target_angle=math.pi / 2, seed=0)
    sw = FSMSwarm(n_agents=8, horizon=2, seed=3, steering=st)
    assert len(st.informed) == 4
    plain = FSMSwarm(n_agents=8, horizon=2, seed=3)
    dec, ref = sw.decide(), plain.decide()
    np.testing.assert_array_equal(dec.counts, ref.counts)
    uninformed = np.setdiff1d(np.arange(8), st.informed)
    np.testing.assert_array_equal(dec.action[uninformed], ref.action[uninformed])
    # with a strong bias toward +90 degrees every informed agent turns left (unless it collides)
    ok = dec.counts[st.informed, 1] > 0
    assert np.all(dec.action[st.informed][ok] == 1)
    with pytest.raises(ValueError, match="fraction"):
        Steering(fraction=1.5)


def test_waypoints_advance():
    st = Steering(fraction=0.25, strength=1.0, waypoints=np.array([[60.0, 50.0], [500.0, 500.0]]),
                  reach=40.0)  # fmt: skip
    sw = FSMSwarm(n_agents=8, horizon=1, seed=0, steering=st)
    sw.step()
    assert st.reached_at == [1] and st.waypoint_index == 1
    assert not st.done


def _gate_case(y0, gate=0.3):
    pos = np.array([[0.0, y0], [-6.0, 0.0], [0.0, 0.0], [6.0, 0.0], [0.0, -6.0], [3.0, 3.0]])
    st = Steering(fraction=0.2, strength=50.0, target_angle=math.pi / 2, gate=gate, seed=0)
    sw = FSMSwarm(n_agents=6, horizon=2, seed=0, steering=st)
    sw.set_state(pos, np.zeros(6))
    st.informed = np.array([0])
    plain = FSMSwarm(n_agents=6, horizon=2, seed=0)
    plain.set_state(pos, np.zeros(6))
    return sw.decide(), plain.decide()


def test_gate_stops_agents_ahead_of_the_flock():
    # agent 0 is 30 above the group and the target is "up": it sees the flock behind it with
    # respect to the target, so the gate switches its bias off and it keeps its FSM choice
    ahead, plain = _gate_case(30.0)
    ungated, _ = _gate_case(30.0, gate=None)
    assert ahead.action[0] == plain.action[0] == 0  # FSM: turn right (most future states)
    assert ungated.action[0] == 1  # without the gate the bias turns it left, away from the flock
    # 30 below the group the flock lies toward the target: full bias, it turns left (up)
    behind, _ = _gate_case(-30.0)
    assert behind.counts[0, 1] > 0 and behind.action[0] == 1


def test_zero_strength_is_plain_fsm():
    st = Steering(fraction=0.5, strength=0.0, seed=0)
    a = FSMSwarm(n_agents=10, horizon=2, seed=9, steering=st).run(5)["positions"]
    b = FSMSwarm(n_agents=10, horizon=2, seed=9).run(5)["positions"]
    np.testing.assert_array_equal(a, b)


def test_belief_turn_is_fsm_in_a_world_where_the_others_turn():
    st = Steering(fraction=0.25, strength=0.0, target_angle=math.pi / 2, belief_turn=math.pi / 6,
                  seed=1)  # fmt: skip
    sw = FSMSwarm(n_agents=12, horizon=2, seed=4, steering=st)
    plain = FSMSwarm(n_agents=12, horizon=2, seed=4)
    seen = {}
    adjust = st.adjust

    def recording_adjust(swarm, counts, scores, action, uniforms):
        seen["uniforms"] = uniforms
        return adjust(swarm, counts, scores, action, uniforms)

    st.adjust = recording_adjust
    dec, ref = sw.decide(), plain.decide()
    informed = st.informed
    uninformed = np.setdiff1d(np.arange(12), informed)
    np.testing.assert_array_equal(dec.action[uninformed], ref.action[uninformed])
    psi = np.full(len(informed), math.pi / 2)
    # believing in no turn is the real world: the same counts as the plain search
    c0, _ = Steering.believed_scores(sw, informed, psi, np.zeros(len(informed)))
    np.testing.assert_array_equal(c0, ref.counts[informed])
    # each informed agent takes the FSM choice (tie rule included) on its believed counts
    cb, sb = Steering.believed_scores(sw, informed, psi, np.full(len(informed), math.pi / 6))
    assert not np.array_equal(cb, c0)  # the imagined turn changes what the agents expect
    np.testing.assert_array_equal(dec.action[informed], choose(sb, seen["uniforms"][informed]))
    assert np.any(dec.action[informed] != ref.action[informed])  # and so choose differently


def test_belief_turn_is_gated_off_ahead_of_the_flock():
    pos = np.array([[0.0, 30.0], [-6.0, 0.0], [0.0, 0.0], [6.0, 0.0], [0.0, -6.0], [3.0, 3.0]])
    st = Steering(fraction=0.2, strength=0.0, target_angle=math.pi / 2, gate=0.3,
                  belief_turn=math.pi / 2, seed=0)  # fmt: skip
    sw = FSMSwarm(n_agents=6, horizon=2, seed=0, steering=st)
    sw.set_state(pos, np.zeros(6))
    st.informed = np.array([0])
    assert st.steering_weights(sw, np.array([math.pi / 2]))[0] == 0.0
    plain = FSMSwarm(n_agents=6, horizon=2, seed=0)
    plain.set_state(pos, np.zeros(6))
    assert sw.decide().action[0] == plain.decide().action[0]


@pytest.mark.parametrize("value", [0.0, -0.1, 4.0, float("nan")])
def test_belief_turn_must_be_an_angle_in_0_pi(value):
    with pytest.raises(ValueError, match="belief_turn"):
        Steering(belief_turn=value)


def test_lead_distance_limits_how_far_an_informed_agent_leads():
    # the flock centre is at y = 0; the target is "up"; d0 = 20
    pos = np.array([[0.0, 30.0], [0.0, 10.0], [0.0, -40.0], [-6.0, 0.0], [6.0, 0.0]])
    st = Steering(fraction=0.6, strength=0.0, target_angle=math.pi / 2, belief_turn=math.pi / 6,
                  lead_distance=20.0, seed=0)  # fmt: skip
    sw = FSMSwarm(n_agents=5, horizon=2, seed=0, steering=st)
    sw.set_state(pos, np.zeros(5))
    st.informed = np.array([0, 1, 2])
    # 30 ahead: no steering; 10 ahead: half; behind the centre: full
    np.testing.assert_allclose(st.steering_weights(sw, np.full(3, math.pi / 2)), [0.0, 0.5, 1.0])
    plain = FSMSwarm(n_agents=5, horizon=2, seed=0)
    plain.set_state(pos, np.zeros(5))
    assert sw.decide().action[0] == plain.decide().action[0]  # led too far: a plain FSM agent


@pytest.mark.parametrize("value", [0.0, -5.0, float("inf"), float("nan")])
def test_lead_distance_must_be_positive_and_finite(value):
    with pytest.raises(ValueError, match="lead_distance"):
        Steering(lead_distance=value)


def test_a_sigint_inside_a_deferral_is_raised_when_it_ends_and_a_custom_handler_is_kept():
    import signal

    from swarm_gym.interrupts import deferred_interrupts, run_in_blocks

    # Python's own handler, as in a terminal (a shell's background job inherits SIGINT ignored)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _check_sigint_deferral(deferred_interrupts, run_in_blocks)
    finally:
        signal.signal(signal.SIGINT, inherited)


def _check_sigint_deferral(deferred_interrupts, run_in_blocks):
    import os
    import signal

    ran = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        os.kill(os.getpid(), signal.SIGINT)  # recorded, not raised here
        ran.append("after the signal")
    assert ran == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    # a SIGINT during one block stops the loop before the next block
    blocks = []

    def run(block, stop):
        blocks.append(block.tolist())
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        run_in_blocks(np.arange(100), 1e9, run)
    assert len(blocks) == 1

    seen = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        with deferred_interrupts():  # the program's own handler decides
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # let Python run the handler
                if seen:
                    break
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == [signal.SIGINT]
