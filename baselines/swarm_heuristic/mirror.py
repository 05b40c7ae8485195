"""Left-right mirror symmetry of the FSM decisions, the ``--mirror`` augmentation of training.

The FSM swarm (Charlesworth & Turner, PNAS 2019) is symmetric under a reflection of the plane:
reflect every position across a line and every heading likewise (for the x axis, (x, y) -> (x,
-y) and theta -> -theta) and the swarm's future is the mirror image of the original's. For one
agent the reflection is the one across its own heading axis, which maps a relative bearing phi
(counter-clockwise from the heading, in [0, 2 pi), as :func:`swarm_gym.kernels.collect_pieces`
measures it) to 2 pi - phi. Sensor k covers [k w, (k + 1) w) with w = 2 pi / n_s, so it maps onto
sensor n_s - 1 - k: a visual state's bit order is reversed. Of the five moves (right, left, slow,
keep, fast; :data:`swarm_gym.decision.MOVES`), the turns by -dtheta and +dtheta swap and the
three speed changes map onto themselves, so the counts of the two turns swap and so do their bits
in the tied set. The FSM's choice maps the same way: its ``"cpp"`` tie rule prefers the turns in
a symmetric way (both tied: a coin flip) and orders the speed moves among themselves; where a tie
rule draws among tied moves (a coin flip between the turns, any tie of ``"uniform"``) the mirrored
choice is a draw of the same distribution.

The tests check that the reflection is exact: the simulator's visual states and the FSM's counts
of a mirrored swarm are the reflections of those of the original.
"""

from __future__ import annotations

import numpy as np

from baselines.swarm_heuristic.dataset import Samples

#: The image of each move under the reflection: right <-> left, slow, keep, fast fixed.
MIRROR_MOVES = np.array([1, 0, 2, 3, 4], dtype=np.int64)


def _check_sensors(n_sensors: int) -> None:
    if isinstance(n_sensors, bool) or not isinstance(n_sensors, int | np.integer):
        raise ValueError(f"n_sensors must be an int in 1..63, got {n_sensors!r}")
    if not 1 <= n_sensors <= 63:
        raise ValueError(f"n_sensors must be an int in 1..63, got {n_sensors}")


def mirror_keys(keys: np.ndarray, n_sensors: int) -> np.ndarray:
    """Packed visual states (bit k = sensor k, any shape) with the bit order of their ``n_sensors``
    bits reversed: sensor k of the mirror image is sensor n_s - 1 - k of the original."""
    _check_sensors(n_sensors)
    keys = np.asarray(keys, dtype=np.int64)
    if np.any(keys < 0) or np.any(keys >> n_sensors):
        raise ValueError(
            f"keys must be packed states of {n_sensors} sensors (0 <= key < 2**{n_sensors}), "
            f"got values in [{keys.min()}, {keys.max()}]"
        )
    out = np.zeros_like(keys)
    for k in range(n_sensors):
        out |= ((keys >> k) & 1) << (n_sensors - 1 - k)
    return out


def mirror_moves(moves: np.ndarray) -> np.ndarray:
    """Move indices (0..4, any shape) mapped by :data:`MIRROR_MOVES`."""
    moves = np.asarray(moves)
    if np.any(moves < 0) or np.any(moves > 4):
        raise ValueError(f"moves must be in 0..4, got values in [{moves.min()}, {moves.max()}]")
    return MIRROR_MOVES[moves.astype(np.int64)].astype(moves.dtype)


def mirror_move_columns(per_move: np.ndarray) -> np.ndarray:
    """A (..., 5) per-move array (counts, scores, a tied mask, a target) with the columns of
    right and left swapped."""
    per_move = np.asarray(per_move)
    if per_move.shape[-1:] != (5,):
        raise ValueError(f"per_move must have a last axis of 5 moves, got shape {per_move.shape}")
    return per_move[..., MIRROR_MOVES]


def mirror_tied_bits(tied: np.ndarray) -> np.ndarray:
    """Packed tied sets (bit a = move a tied-best, the run files' ``tied``) with bits 0 and 1
    swapped."""
    tied = np.asarray(tied)
    if np.any(tied.astype(np.int64) >> 5):
        raise ValueError("tied must hold 5-bit sets (bit a = move a), got a value >= 32")
    swapped = ((tied & 1) << 1) | ((tied >> 1) & 1) | (tied & 0b11100)
    return swapped.astype(tied.dtype)


def mirror_decisions(
    prev_keys: np.ndarray,
    keys: np.ndarray,
    action: np.ndarray,
    tied: np.ndarray,
    counts: np.ndarray,
    n_sensors: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The mirror images of the decision arrays of a run file (:mod:`.dataset`): previous and
    current packed states, the FSM choice, the packed tied set and the (..., 5) counts."""
    return (mirror_keys(prev_keys, n_sensors), mirror_keys(keys, n_sensors),
            mirror_moves(action), mirror_tied_bits(tied), mirror_move_columns(counts))  # fmt: skip


def mirror_samples(samples: Samples) -> Samples:
    """The mirror images of flattened decisions: in ``x`` = [previous bits, current bits] each
    half's sensor order is reversed; ``action``, ``tied`` and ``counts`` swap right and left;
    ``run`` is kept (a mirrored sample stays in its run's split)."""
    width = samples.x.shape[1]
    if width % 2:
        raise ValueError(f"samples.x must have 2 n_s columns, got {width}")
    n_s = width // 2
    reverse = np.r_[np.arange(n_s)[::-1], n_s + np.arange(n_s)[::-1]]
    return Samples(samples.x[:, reverse], mirror_moves(samples.action),
                   mirror_move_columns(samples.tied), mirror_move_columns(samples.counts),
                   samples.run.copy())  # fmt: skip


def with_mirror(samples: Samples) -> Samples:
    """The samples followed by their mirror images (twice as many)."""
    image = mirror_samples(samples)
    return Samples(*(np.concatenate([a, b]) for a, b in
                     zip((samples.x, samples.action, samples.tied, samples.counts, samples.run),
                         (image.x, image.action, image.tied, image.counts, image.run),
                         strict=True)))  # fmt: skip
