"""The mirror augmentation of the heuristic's training (baselines.swarm_heuristic.mirror)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from baselines.swarm_heuristic.dataset import Samples, unpack
from baselines.swarm_heuristic.mirror import (
    mirror_decisions,
    mirror_keys,
    mirror_move_columns,
    mirror_moves,
    mirror_samples,
    mirror_tied_bits,
    with_mirror,
)
from swarm_gym import FSMSwarm


def _pack_tied(tied: np.ndarray) -> np.ndarray:
    return (tied.astype(np.int64) << np.arange(5)).sum(axis=-1)


@pytest.mark.parametrize(
    ("model", "variant"), [("discrete", "cpp"), ("discrete", "clean"), ("continuous", "cpp")]
)
def test_the_reflection_of_a_swarm_is_the_reflection_of_its_visual_states_and_counts(
    model: str, variant: str
) -> None:
    """Reflect a flying swarm across the x axis ((x, y) -> (x, -y), theta -> -theta) and step both
    swarms, the mirrored one with the mirrored moves: at every step the mirrored swarm's visual
    states, counts, scores and tied sets are exactly the reflections of the original's, and its
    FSM choice is the mirrored choice wherever the tie rule does not draw among tied moves. (The continuous
    model's scores, W, are sums of float differences over the sensors: equal to rounding.)"""
    n_s = 40
    original = FSMSwarm(n_agents=12, horizon=3, seed=3, box=40.0, model=model, variant=variant)
    original.run(5)  # a flock, not the random start
    mirrored = FSMSwarm(n_agents=12, horizon=3, seed=4, box=40.0, model=model, variant=variant)
    flip = np.array([1.0, -1.0])
    mirrored.set_state(original.positions * flip, -original.headings, original.speeds)
    checked_turns = 0
    prev, prev_m = original.visual()[0], mirrored.visual()[0]
    for _ in range(8):
        keys, keys_m = original.visual()[0], mirrored.visual()[0]
        assert np.array_equal(keys_m, mirror_keys(keys, n_s))  # (a) the visual states
        d, d_m = original.decide(), mirrored.decide()
        assert np.array_equal(d_m.counts, mirror_move_columns(d.counts))  # (b) the FSM
        if model == "discrete":
            assert np.array_equal(d_m.scores, mirror_move_columns(d.scores))
        else:  # W sums float differences over the mirrored sensor intervals: equal to rounding
            np.testing.assert_allclose(d_m.scores, mirror_move_columns(d.scores), rtol=1e-12)
        assert np.array_equal(d_m.tied, mirror_move_columns(d.tied))
        # where the tie rule draws (cpp: both turns tied; uniform: any tie) only the
        # distribution of the choice is symmetric
        coin = d.tied[:, 0] & d.tied[:, 1] if variant == "cpp" else d.tied.sum(axis=1) > 1
        assert np.array_equal(d_m.action[~coin], mirror_moves(d.action)[~coin])
        checked_turns += int(np.sum(d.action[~coin] < 2))
        p_m, k_m, a_m, t_m, c_m = mirror_decisions(
            prev, keys, d.action, _pack_tied(d.tied), d.counts, n_s
        )
        assert np.array_equal(p_m, prev_m) and np.array_equal(k_m, keys_m)
        assert np.array_equal(t_m, _pack_tied(d_m.tied)) and np.array_equal(c_m, d_m.counts)
        assert np.array_equal(a_m[~coin], d_m.action[~coin])
        prev, prev_m = keys, keys_m
        mirrored.step(mirror_moves(original.step()))
        assert np.array_equal(mirrored.positions, original.positions * flip)
    assert checked_turns > 0  # the turns were exercised, not only the speed moves
    assert np.any(original.visual()[0] != mirror_keys(original.visual()[0], n_s))  # not symmetric


def test_mirror_functions_on_hand_made_values() -> None:
    assert mirror_keys(np.array([0b0001, 0b0110, 0b1011]), 4).tolist() == [0b1000, 0b0110, 0b1101]
    assert mirror_moves(np.array([0, 1, 2, 3, 4])).tolist() == [1, 0, 2, 3, 4]
    assert mirror_tied_bits(np.array([0b00001, 0b00011, 0b10110], dtype=np.uint8)).tolist() == [
        0b00010, 0b00011, 0b10101]  # fmt: skip
    keys = np.arange(2**6, dtype=np.int64)
    assert np.array_equal(mirror_keys(mirror_keys(keys, 6), 6), keys)  # an involution
    with pytest.raises(ValueError, match="keys must be packed states of 4 sensors"):
        mirror_keys(np.array([16]), 4)
    with pytest.raises(ValueError, match=r"moves must be in 0\.\.4"):
        mirror_moves(np.array([5]))
    with pytest.raises(ValueError, match=r"n_sensors must be an int in 1\.\.63"):
        mirror_keys(np.array([1]), 64)


def test_mirror_samples_reflects_the_flattened_training_rows() -> None:
    rng = np.random.default_rng(0)
    n_s, s = 6, 30
    prev, cur = rng.integers(0, 2**n_s, s), rng.integers(0, 2**n_s, s)
    counts = rng.integers(0, 9, (s, 5))
    tied = counts == counts.max(axis=1, keepdims=True)
    action = rng.integers(0, 5, s)
    samples = Samples(np.concatenate([unpack(prev, n_s), unpack(cur, n_s)], axis=1), action,
                      tied, counts, np.arange(s) % 3)  # fmt: skip
    image = mirror_samples(samples)
    p_m, k_m, a_m, t_m, c_m = mirror_decisions(prev, cur, action, _pack_tied(tied), counts, n_s)
    assert np.array_equal(image.x, np.concatenate([unpack(p_m, n_s), unpack(k_m, n_s)], axis=1))
    assert np.array_equal(image.action, a_m) and np.array_equal(image.counts, c_m)
    assert np.array_equal(_pack_tied(image.tied), t_m)
    assert np.array_equal(image.run, samples.run)
    both = with_mirror(samples)
    assert both.x.shape == (2 * s, 2 * n_s)
    assert np.array_equal(both.x[s:], image.x) and np.array_equal(both.action[:s], action)


def test_soft_targets_fsm_is_one_hot_on_the_fsm_choice() -> None:
    from baselines.swarm_heuristic.train import soft_target

    tied = np.array([[True, True, False, False, False], [False, False, True, True, True]])
    counts = np.array([[4, 4, 1, 2, 3], [1, 1, 5, 5, 5]])
    action = np.array([1, 2])
    np.testing.assert_array_equal(soft_target(tied, counts, "fsm", 0.5, action),
                                  [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0]])  # fmt: skip
    np.testing.assert_array_equal(soft_target(tied, counts, "tied", 0.5),
                                  [[0.5, 0.5, 0, 0, 0], [0, 0, 1 / 3, 1 / 3, 1 / 3]])  # fmt: skip
    with pytest.raises(ValueError, match="needs the FSM's choices"):
        soft_target(tied, counts, "fsm", 0.5)
    with pytest.raises(ValueError, match="target must be one of"):
        soft_target(tied, counts, "uniform", 0.5)


def test_train_with_mirror_and_the_fsm_target_doubles_only_the_training_split(
    tmp_path: Path,
) -> None:
    pytest.importorskip("torch")
    from baselines.swarm_heuristic import record, train

    data = tmp_path / "data"
    assert record.main(["--preset", "smoke", "--out", str(data), "--runs", "3"]) == 0
    base = ["--data", str(data), "--test-runs", "1", "--epochs", "1", "--hidden", "8"]
    plain = train.train(train.parse_config(train.TrainConfig, [*base, "--out", str(tmp_path / "a")],
                                           train.PROG), log=lambda *_: None)  # fmt: skip
    cfg = train.parse_config(train.TrainConfig, [*base, "--out", str(tmp_path / "b"), "--mirror",
                                                 "--target", "fsm"], train.PROG)  # fmt: skip
    assert cfg.mirror and cfg.target == "fsm"
    mirrored = train.train(cfg, log=lambda *_: None)
    assert mirrored["samples"]["train"] == 2 * plain["samples"]["train"]
    assert mirrored["samples"]["val"] == plain["samples"]["val"]
    assert mirrored["samples"]["test"] == plain["samples"]["test"]
    assert mirrored["tie_rate"] == plain["tie_rate"]
