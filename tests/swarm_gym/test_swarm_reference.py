"""The fast numba kernels against visual-state test vectors of the reference C++ and an independent
slow implementation (tests/swarm_gym/swarm_slow_reference.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import swarm_slow_reference as slow

from swarm_gym import FSMSwarm, SwarmConfig, kernels
from swarm_gym.decision import score_moves


def _bits(pos, th, i=0, **kw):
    sw = FSMSwarm(config=SwarmConfig.create(n_agents=len(pos), **kw), seed=0)
    sw.set_state(np.asarray(pos, float), np.asarray(th, float))
    return set(np.nonzero(sw.visual_bits()[i])[0].tolist())


@pytest.mark.parametrize(
    ("heading", "other", "expected"),
    [
        (0.0, (0.0, 5.0), {9, 10}),
        (0.0, (3 * math.cos(0.05), 3 * math.sin(0.05)), {0, 1, 38, 39}),
        (0.0, (4 * math.cos(math.radians(-100)), 4 * math.sin(math.radians(-100))), {27, 28, 29}),
        (math.pi / 2, (5.0, 0.0), {29, 30}),
    ],
)
def test_reference_visual_vectors(heading, other, expected):
    assert _bits([(0.0, 0.0), other], [heading, 0.0]) == expected
    assert set(np.nonzero(slow.visual_bits(0, 0, heading, [other])[0])[0]) == expected


def test_nan_skip_for_agent_exactly_ahead():
    # j exactly on the heading axis at an oblique heading: the rounded arccos argument can exceed
    # 1; both implementations must skip j then (no bits) rather than propagate NaN.
    hits = 0
    for k in range(1, 200):
        h = 0.1 + 0.01 * k
        d = 3.0 + 0.37 * k
        q = (d * math.cos(h), d * math.sin(h))
        arg = (math.cos(h) * q[0] + math.sin(h) * q[1]) / math.sqrt(q[0] ** 2 + q[1] ** 2)
        fast = _bits([(0.0, 0.0), q], [h, 0.0])
        ref = set(np.nonzero(slow.visual_bits(0, 0, h, [q])[0])[0])
        assert fast == ref
        if arg > 1.0:
            hits += 1
            assert fast == set()
    assert hits > 0  # the quirk is exercised


def test_head_on_swept_collision_is_pruned():
    # i at the origin heading +x; j 10 ahead with a 0.3 lateral offset, heading -x. After one
    # step at v0 they are again 10 apart but crossed each other: the swept test must prune "keep".
    pos = np.array([[0.0, 0.0], [10.0, 0.3]])
    th = np.array([0.0, math.pi])
    for swept in ("slope", "robust"):
        cfg = SwarmConfig.create(n_agents=2, horizon=1, swept_test=swept)
        counts, _, _, _ = score_moves(cfg, pos, th)
        assert counts[0, 3] == 0  # keep: swept collision
        ref = slow.branch_counts(pos.tolist(), th.tolist(), 0, 1, swept=swept)
        assert counts[0].tolist() == ref
        # with a lateral offset of 8 the paths never come within 2R: nothing is pruned
        far = np.array([[0.0, 0.0], [10.0, 8.0]])
        assert score_moves(cfg, far, th)[0][0].tolist() == [1, 1, 1, 1, 1]
    # an endpoint-only test would have missed it: the end states are 10 apart
    assert math.hypot(10.0 - 0.0, 0.3) > 2.0


def _random_state(rng, n, box):
    pos = rng.uniform(0, box, size=(n, 2))
    th = rng.normal(0, 0.4, size=n)
    return pos, th


@pytest.mark.parametrize(
    ("opts", "slow_opts", "tau"),
    [
        ({}, {}, 3),
        ({"variant": "clean", "tie_break": "cpp"},
         {"halfwidth": "asin", "early_exit": False, "swept": "robust"}, 2),
        ({"count_depths": "leaf"}, {"leaf_only": True}, 3),
    ],
)  # fmt: skip
def test_branch_counts_match_slow_reference(opts, slow_opts, tau):
    rng = np.random.default_rng(12345 + tau)
    checked = pruned = 0
    for trial in range(4):
        n = 7
        pos, th = _random_state(rng, n, 25.0 + 5 * trial)
        cfg = SwarmConfig.create(n_agents=n, horizon=tau, **opts)
        counts, _, _, _ = score_moves(cfg, pos, th)
        for i in range(n):
            ref = slow.branch_counts(pos.tolist(), th.tolist(), i, tau, **slow_opts)
            assert counts[i].tolist() == ref, (trial, i)
            checked += 1
            pruned += sum(c == 0 for c in ref)
    assert checked == 28
    assert counts.max() > 5  # non-trivial states were counted


def test_early_exit_quirk_matters_when_overlapping():
    # i overlaps j at t=0 and k sits right in front of i: with the reference early exit the
    # collision with k is never checked (j comes first), without it the move is pruned.
    pos = np.array([[0.0, 0.0], [0.0, 1.5], [11.0, 0.0]])
    th = np.array([0.0, math.pi / 2, math.pi])
    cpp = score_moves(SwarmConfig.create(n_agents=3, horizon=1), pos, th)[0]
    fixed = score_moves(SwarmConfig.create(n_agents=3, horizon=1, early_exit=False), pos, th)[0]
    assert cpp[0, 3] == 1 and fixed[0, 3] == 0
    assert slow.branch_counts(pos.tolist(), th.tolist(), 0, 1)[3] == 1
    assert slow.branch_counts(pos.tolist(), th.tolist(), 0, 1, early_exit=False)[3] == 0


def test_continuous_weights_match_pairwise_definition():
    rng = np.random.default_rng(7)
    pos, th = _random_state(rng, 5, 20.0)
    cfg = SwarmConfig.create(n_agents=5, horizon=2, model="continuous")
    _, nodes, w, _ = score_moves(cfg, pos, th)
    for i in range(5):
        sets = slow.branch_visual_sets(pos.tolist(), th.tolist(), i, 2)
        assert nodes[i].tolist() == [len(s) for s in sets]
        ref = [slow.soft_weight(s) for s in sets]
        np.testing.assert_allclose(w[i], ref, rtol=1e-9, atol=1e-12)
    assert np.all(w[nodes > 1] >= 0) and np.any(w > 0.1)


def test_coverage_kernel_matches_numpy_metric():
    from swarm_gym.metrics import coverage

    rng = np.random.default_rng(3)
    pos, th = _random_state(rng, 30, 40.0)
    _, cov = kernels.visual_states(pos, th, 1.0, 0, 40, 0.5)
    np.testing.assert_allclose(cov, coverage(pos), rtol=1e-12, atol=1e-12)
    assert 0.05 < cov.mean() < 0.9
