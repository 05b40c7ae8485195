"""The NN heuristic of the FSM swarm without torch: weights files, inference, the policy option."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numba
import numpy as np
import pytest

import swarm_gym  # noqa: F401  (registers the envs)
from swarm_gym import FSMSwarm, Steering
from swarm_gym.heuristic import HeuristicPolicy


def random_policy(hidden: tuple[int, ...] = (16, 8), seed: int = 0) -> HeuristicPolicy:
    rng = np.random.default_rng(seed)
    sizes = [80, *hidden, 5]
    weights = [rng.normal(0, 0.5, (a, b)) for a, b in itertools.pairwise(sizes)]
    biases = [rng.normal(0, 0.1, b) for b in sizes[1:]]
    return HeuristicPolicy(weights, biases, 40)


@pytest.fixture
def weights_file(tmp_path: Path) -> Path:
    path = tmp_path / "w.npz"
    arrays: dict[str, Any] = random_policy().to_arrays()
    np.savez(path, **arrays)
    return path


def test_probabilities_equal_a_plain_numpy_forward_pass() -> None:
    pol = random_policy()
    bits = np.random.default_rng(1).integers(0, 2, (64, 80)).astype(np.uint8)
    h = bits.astype(np.float64)
    for k, (w, b) in enumerate(zip(pol.weights, pol.biases, strict=True)):
        h = h @ w + b
        if k < len(pol.weights) - 1:
            h = np.maximum(h, 0.0)
    expected = np.exp(h - h.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(pol.probabilities(bits), expected, rtol=1e-12, atol=1e-14)


def test_sampling_uses_the_uniform_and_greedy_the_argmax() -> None:
    pol = random_policy()
    pol.greedy = False
    keys = np.random.default_rng(2).integers(0, 2**40, 30)
    prev = np.roll(keys, 1)
    moves, probs = pol.act(prev, keys, np.full(30, 0.0))
    assert np.array_equal(moves, np.argmax(probs > 0, axis=1))  # u = 0: the first move
    u = np.random.default_rng(3).random(30)
    moves, probs = pol.act(prev, keys, u)
    assert np.array_equal(moves, (u[:, None] >= np.cumsum(probs, axis=1)).sum(axis=1))
    pol.greedy = True
    assert np.array_equal(pol.act(prev, keys, u)[0], probs.argmax(axis=1))


def test_round_trip_and_shipped_weights(weights_file: Path) -> None:
    pol = HeuristicPolicy.load(weights_file)
    ref = random_policy()
    for a, b in zip(pol.weights, ref.weights, strict=True):
        np.testing.assert_array_equal(a, b.astype(np.float32))
    shipped = HeuristicPolicy.load()
    assert shipped.n_sensors == 40 and shipped.meta["format_version"] == 1
    assert shipped.meta["training"]["test_tied"] > 0.35  # chance: about 0.24
    continuous = HeuristicPolicy.load(model="continuous")
    assert continuous.meta["model"] == "continuous" and continuous.n_sensors == 40
    assert continuous.meta["training"]["test_tied"] > 0.3  # chance: about 0.2 (few ties)
    with pytest.raises(ValueError, match="model must be one of"):
        HeuristicPolicy.load(model="bogus")


def test_a_continuous_swarm_flies_the_continuous_heuristic_by_default() -> None:
    explicit = HeuristicPolicy.load(model="continuous")
    by_default = FSMSwarm(12, 2, seed=3, model="continuous", policy="heuristic").run(8)
    assert np.array_equal(
        by_default["actions"],
        FSMSwarm(12, 2, seed=3, model="continuous", policy=explicit).run(8)["actions"],
    )
    # the other model's weights are refused, as files or as policy objects
    with pytest.raises(ValueError, match="trained on the discrete FSM model, but the swarm runs the continuous model"):  # fmt: skip
        FSMSwarm(12, 2, seed=3, model="continuous", policy=HeuristicPolicy.load())
    with pytest.raises(ValueError, match="trained on the continuous FSM model, but the swarm runs the discrete model"):  # fmt: skip
        FSMSwarm(12, 2, seed=3, policy=explicit)


def _write(path: Path, arrays: dict[str, Any]) -> Path:
    np.savez(path, **arrays)
    return path


def test_bad_weight_files_name_the_file_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        HeuristicPolicy.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not an npz")
    with pytest.raises(ValueError, match=r"junk\.npz is not a readable"):
        HeuristicPolicy.load(junk)
    good = random_policy().to_arrays()
    cases = {
        "no 'meta'": {k: v for k, v in good.items() if k != "meta"},
        "format_version": {**good, "meta": np.array(json.dumps({"format_version": 9}))},
        "w1 must have shape": {**good, "w1": np.zeros((3, 8), np.float32)},
        "b0 must have shape": {**good, "b0": np.zeros(3, np.float32)},
        "NaN": {**good, "w0": np.full((80, 16), np.nan, np.float32)},
        "layer 2 needs": {k: v for k, v in good.items() if k != "b2"},
        "5 outputs": {**good, "w2": np.zeros((8, 4), np.float32), "b2": np.zeros(4, np.float32)},
    }
    for i, (message, arrays) in enumerate(cases.items()):
        path = _write(tmp_path / f"bad{i}.npz", arrays)
        with pytest.raises(ValueError, match=message) as err:
            HeuristicPolicy.load(path)
        assert f"bad{i}.npz" in str(err.value)


def test_policy_option_validation(weights_file: Path) -> None:
    with pytest.raises(ValueError, match="policy must be"):
        FSMSwarm(10, 2, seed=0, policy="nn")
    with pytest.raises(ValueError, match="needs policy='heuristic'"):
        FSMSwarm(10, 2, seed=0, weights=weights_file)
    with pytest.raises(ValueError, match="steering"):
        FSMSwarm(10, 2, seed=0, policy="heuristic", weights=weights_file,
                 steering=Steering(fraction=0.2, strength=1.0))  # fmt: skip
    with pytest.raises(ValueError, match="n_sensors=40"):
        FSMSwarm(10, 2, seed=0, policy="heuristic", weights=weights_file, n_sensors=20)
    bads: tuple[Any, ...] = (0.0, 1.5, [10], np.ones(3, bool), "half")
    for bad in bads:
        with pytest.raises(ValueError, match="heuristic_agents"):
            FSMSwarm(10, 2, seed=0, policy="heuristic", weights=weights_file,
                     heuristic_agents=bad)  # fmt: skip


def test_heuristic_swarm_is_deterministic_and_thread_independent(weights_file: Path) -> None:
    def run(threads: int) -> dict[str, np.ndarray]:
        old = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            return FSMSwarm(30, 3, seed=4, policy="heuristic", weights=weights_file).run(15)
        finally:
            numba.set_num_threads(old)

    a = run(1)
    b = run(min(2, int(numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    c = run(1)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(a[key], c[key])


def test_heuristic_moves_come_from_previous_and_current_visual_states(weights_file: Path) -> None:
    pol = HeuristicPolicy.load(weights_file)
    sw = FSMSwarm(12, 2, seed=5, policy=pol)
    prev = sw.visual()[0].copy()
    for _ in range(4):
        cur = sw.visual()[0].copy()
        state = sw.rng.bit_generator.state
        dec = sw.decide()
        sw.rng.bit_generator.state = state
        uniforms = sw.rng.random(12)
        expected, _ = pol.act(prev, cur, uniforms)
        np.testing.assert_array_equal(dec.action, expected)
        assert not dec.counts.any()  # no tree search for heuristic agents
        sw.step()
        prev = cur


def test_a_fraction_of_agents_and_the_rest_fsm(weights_file: Path) -> None:
    sw = FSMSwarm(10, 2, seed=6, policy="heuristic", weights=weights_file, heuristic_agents=0.3)
    assert sw.policy == "heuristic" and sw.heuristic_agents.tolist() == [True] * 3 + [False] * 7
    dec = sw.decide()
    assert not dec.counts[:3].any() and dec.counts[3:].any()
    fsm = FSMSwarm(10, 2, seed=6)
    np.testing.assert_array_equal(dec.action[3:], fsm.decide().action[3:])
    assert FSMSwarm(10, 2, seed=0).policy == "fsm"


def test_swarm_env_expert_action_reproduces_the_heuristic_swarm(weights_file: Path) -> None:
    env = gym.make("FSMSwarm-v0", n_agents=10, horizon=2, policy="heuristic",
                   weights=str(weights_file), heuristic_agents=0.5)  # fmt: skip
    obs, info = env.reset(seed=7)
    for _ in range(5):
        assert info["fsm_counts"].any(axis=1).all()  # every agent scored, for the rewards
        obs, _, _, _, info = env.step(info["expert_action"])
    sw = FSMSwarm(10, 2, seed=7, policy="heuristic", weights=weights_file, heuristic_agents=0.5)
    run = sw.run(5)
    np.testing.assert_array_equal(info["positions"], run["positions"][-1])
    np.testing.assert_array_equal(obs[:, 1], sw.visual_bits())


def test_focal_env_with_heuristic_others(weights_file: Path) -> None:
    env = gym.make("FSMFocal-v0", n_agents=10, horizon=2, others_policy="heuristic",
                   weights=str(weights_file))  # fmt: skip
    obs, info = env.reset(seed=0)
    for _ in range(4):
        obs, r, _, _, info = env.step(info["expert_action"])
    assert obs.shape == (80,) and np.isfinite(float(r)) and info["fsm_counts"].shape == (5,)
    with pytest.raises(ValueError, match="others_policy='heuristic'"):
        gym.make("FSMFocal-v0", n_agents=10, horizon=2, weights=str(weights_file))


def test_visual_states_equal_those_of_the_tree_search_intervals() -> None:
    """The depth-0 visual states (argsort of the pieces) against the tree search's insertion-sorted
    intervals, agent by agent: the same keys and coverages, bit for bit."""
    from swarm_gym import kernels

    def by_insertion_sort(pos, th, halfwidth):
        n = len(pos)
        lo, hi, fill = np.empty(2 * n + 2), np.empty(2 * n + 2), np.empty(40)
        edges = kernels.sensor_edges(40)
        qx, qy = np.ascontiguousarray(pos[:, 0]), np.ascontiguousarray(pos[:, 1])
        keys, coverage = np.zeros(n, dtype=np.int64), np.zeros(n)
        for i in range(n):
            m = kernels.build_intervals(pos[i, 0], pos[i, 1], th[i], qx, qy, i, 1.0, halfwidth,
                                        lo, hi)  # fmt: skip
            nm = kernels.merge_intervals(lo, hi, m)
            keys[i] = kernels.key_from_intervals(lo, hi, nm, edges, 0.5, fill)
            total = 0.0
            for p in range(nm):
                total += hi[p] - lo[p]
            coverage[i] = total / (2.0 * np.pi)
        return keys, coverage

    rng = np.random.default_rng(8)
    states = [(rng.uniform(0, 30, (60, 2)), rng.uniform(-7, 7, 60))]
    sw = FSMSwarm(40, 2, seed=9)
    sw.run(20)
    states.append((sw.positions, sw.headings))
    pos = rng.uniform(0, 10, (30, 2))
    pos[1] = pos[0] + [3.0, 0.0]  # exactly ahead: the NaN skip
    pos[2] = pos[0]  # d = 0
    states.append((pos, np.zeros(30)))
    for pos, th in states:
        for halfwidth in (0, 1):
            pos, th = np.ascontiguousarray(pos, dtype=np.float64), np.asarray(th, np.float64)
            expected = by_insertion_sort(pos, th, halfwidth)
            got = kernels.visual_states(pos, th, 1.0, halfwidth, 40, 0.5)
            for a, b in zip(got, expected, strict=True):
                np.testing.assert_array_equal(a, b)


def test_a_decision_rule_drives_the_swarm_as_the_options_that_describe_it(
    weights_file: Path,
) -> None:
    from swarm_gym import DecisionRule, SwarmConfig

    config = SwarmConfig.create(n_agents=10, horizon=2)
    rule = DecisionRule.create(config, "heuristic", weights_file, 0.3, others="heuristic")
    assert rule.heuristic is rule.others and rule.heuristic_agents is not None
    assert rule.heuristic_agents.tolist() == [True] * 3 + [False] * 7
    by_options = FSMSwarm(config=config, seed=6, policy="heuristic", weights=weights_file,
                          heuristic_agents=0.3, others="heuristic")  # fmt: skip
    by_rule = FSMSwarm(config=config, seed=6, rule=rule)
    assert by_rule.rule is rule and by_rule.policy == "heuristic"
    assert by_rule.others_model == "heuristic"
    expected, got = by_options.run(6), by_rule.run(6)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])
    # the swarm's settable switches replace its (frozen) rule
    by_rule.score_all = True
    assert by_rule.rule.score_all and not rule.score_all
    with pytest.raises(ValueError, match="not both"):
        FSMSwarm(config=config, rule=rule, heuristic_agents=np.ones(10, dtype=bool))
    with pytest.raises(ValueError, match=r"rule: heuristic_agents must have shape \(12,\)"):
        FSMSwarm(12, 2, rule=rule)
    with pytest.raises(ValueError, match="rule: the heuristic's weights are for n_sensors=40"):
        FSMSwarm(10, 2, n_sensors=20, rule=rule)
    with pytest.raises(ValueError, match="steering is not supported"):
        FSMSwarm(config=config, rule=rule, steering=Steering())
    with pytest.raises(ValueError, match="heuristic and heuristic_agents must be given together"):
        DecisionRule(heuristic=rule.heuristic)
    with pytest.raises(ValueError, match="score_all must be True or False, got 'yes'"):
        rule.replace(score_all="yes")
