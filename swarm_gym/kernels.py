"""numba kernels of the FSM swarm: visual states, the future-state tree search, branch scores.

The step is split into N independent tasks, one per agent, run with ``prange``. Each task walks
the five branches of its agent depth-first with an explicit stack and keeps its distinct visual
states (packed into an int64, bit k = sensor k) in a small open-addressing hash set. All scratch
memory is allocated once per task, never per node, and each task writes only its own output cell,
so the result does not depend on the number of threads.

No ``fastmath`` anywhere: the model's decisions depend on strict comparisons of float64 values and
on the NaN behaviour of the reference (a NaN bearing skips an agent, a NaN in the slope-intercept
swept test means "no collision"). ``error_model="numpy"`` gives IEEE division (x/0 = inf or NaN)
instead of Python's ZeroDivisionError, as in the C++.

The tree search takes its parameters as one :class:`swarm_gym.kernel_params.KernelParams` record
(built by :func:`swarm_gym.kernel_params.kernel_params`, fields read by name). Integer option
codes: ``halfwidth`` 0 = atan, 1 = asin; ``swept`` 0 = slope-intercept (reference), 1 = robust;
``count_mode`` 0 = all depths, 1 = leaf only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

from swarm_gym.forksafe import fork_safe
from swarm_gym.interrupts import deferred_interrupts, run_in_blocks
from swarm_gym.kernel_params import KernelParams

TWO_PI = 2.0 * math.pi
_HASH_MULT = 0x5BD1E9955BD1E995  # odd 64-bit multiplier (wraps as int64)
_EMPTY = -1
_INSERTION_SORT_MAX = 256  # pieces; above, build_intervals sorts by argsort

_JIT: dict[str, Any] = {"cache": True, "error_model": "numpy", "nogil": True}


@njit(**_JIT)
def sensor_edges(n_s: int) -> np.ndarray:
    """Sensor edges 0, w, 2w, ... accumulated by repeated addition of w = 2*pi/n_s (as the C++)."""
    edges = np.empty(n_s + 1)
    width = TWO_PI / n_s
    edges[0] = 0.0
    for k in range(n_s):
        edges[k + 1] = edges[k] + width
    return edges


@njit(**_JIT)
def ballistic_table(
    pos: np.ndarray, th: np.ndarray, tau: int, v0: float, dt: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions of every agent after k = 0..tau straight steps at v0, accumulated step by step.

    Returns ``(qx, qy, bx, by)``: ``qx[k, j]``, ``qy[k, j]`` and the displacement of the step into
    depth k, ``bx[k, j] = v0*dt*cos(th_j)`` (the same for every k), ``by[k, j]``, used by the
    collision test's back-projection. A table of any other model of the others (the heuristic's
    prediction, :func:`swarm_gym.closure.predicted_table`) has the same layout.
    """
    n = pos.shape[0]
    qx = np.empty((tau + 1, n))
    qy = np.empty((tau + 1, n))
    bx = np.empty((tau + 1, n))
    by = np.empty((tau + 1, n))
    for j in range(n):
        bx[0, j] = v0 * dt * math.cos(th[j])
        by[0, j] = v0 * dt * math.sin(th[j])
        qx[0, j] = pos[j, 0]
        qy[0, j] = pos[j, 1]
    for k in range(1, tau + 1):
        for j in range(n):
            bx[k, j] = bx[0, j]
            by[k, j] = by[0, j]
            qx[k, j] = qx[k - 1, j] + bx[k, j]
            qy[k, j] = qy[k - 1, j] + by[k, j]
    return qx, qy, bx, by


@njit(**_JIT)
def collect_pieces(
    cx: float,
    cy: float,
    heading: float,
    qx: np.ndarray,
    qy: np.ndarray,
    skip: int,
    radius: float,
    halfwidth: int,
    lo: np.ndarray,
    hi: np.ndarray,
) -> int:
    """Occupied angular pieces (within [0, 2*pi], relative to ``heading``) seen from (cx, cy),
    unsorted, in the order of the agents; returns their number.

    Agent ``skip`` is ignored. As the reference C++ computes the visual state: counter-clockwise
    bearing from arccos plus the sign of the cross product, the NaN skip (|argument| > 1 or d = 0),
    half-width atan(R/d) or asin(R/d), and the split of pieces crossing 0 or 2*pi.
    """
    ch = math.cos(heading)
    sh = math.sin(heading)
    m = 0
    for j in range(qx.shape[0]):
        if j == skip:
            continue
        rx = qx[j] - cx
        ry = qy[j] - cy
        d = math.sqrt(rx * rx + ry * ry)
        arg = (ch * rx + sh * ry) / d
        # arccos would return NaN here (C++: the agent is skipped); also catches d == 0.
        if not (arg <= 1.0 and arg >= -1.0):
            continue
        beta = math.acos(arg)
        if ch * ry - sh * rx < 0.0:
            beta = TWO_PI - beta
        if halfwidth == 0:
            w = math.atan(radius / d)
        else:
            w = math.asin(radius / d) if d > radius else 0.5 * math.pi
        a = beta - w
        b = beta + w
        if a < 0.0:
            lo[m] = 0.0
            hi[m] = b
            lo[m + 1] = TWO_PI + beta - w
            hi[m + 1] = TWO_PI
            m += 2
        elif b > TWO_PI:
            lo[m] = 0.0
            hi[m] = beta + w - TWO_PI
            lo[m + 1] = a
            hi[m + 1] = TWO_PI
            m += 2
        else:
            lo[m] = a
            hi[m] = b
            m += 1
    return m


@njit(**_JIT)
def build_intervals(
    cx: float,
    cy: float,
    heading: float,
    qx: np.ndarray,
    qy: np.ndarray,
    skip: int,
    radius: float,
    halfwidth: int,
    lo: np.ndarray,
    hi: np.ndarray,
) -> int:
    """The pieces of :func:`collect_pieces`, sorted by start in ``lo``/``hi``; returns their number."""
    m = collect_pieces(cx, cy, heading, qx, qy, skip, radius, halfwidth, lo, hi)
    if m > _INSERTION_SORT_MAX:
        # an argsort: insertion sort is O(m^2), minutes per node at N = 10^5. The merged
        # intervals do not depend on the order of pieces with equal starts (so neither do keys).
        order = np.argsort(lo[:m])
        slo = lo[:m][order]
        shi = hi[:m][order]
        lo[:m] = slo
        hi[:m] = shi
        return m
    # insertion sort by start (fastest for the short arrays of small flocks)
    for p in range(1, m):
        a = lo[p]
        b = hi[p]
        q = p - 1
        while q >= 0 and lo[q] > a:
            lo[q + 1] = lo[q]
            hi[q + 1] = hi[q]
            q -= 1
        lo[q + 1] = a
        hi[q + 1] = b
    return m


@njit(**_JIT)
def merge_intervals(lo: np.ndarray, hi: np.ndarray, m: int) -> int:
    """Merge sorted pieces in place into disjoint intervals; returns their number.

    Touching pieces are not merged (strict <), as in the C++; it does not change any fill.
    """
    if m == 0:
        return 0
    k = 0
    for p in range(1, m):
        if lo[p] < hi[k]:
            if hi[p] > hi[k]:
                hi[k] = hi[p]
        else:
            k += 1
            lo[k] = lo[p]
            hi[k] = hi[p]
    return k + 1


@njit(**_JIT)
def key_from_intervals(
    lo: np.ndarray, hi: np.ndarray, nm: int, edges: np.ndarray, threshold: float, fill: np.ndarray
) -> int:
    """Pack the sensor bits of the merged intervals into an int64 (bit k = sensor k on).

    A sensor is on iff |A ∩ sensor| / width > threshold. ``fill`` is scratch of length n_s.
    """
    n_s = edges.shape[0] - 1
    width = TWO_PI / n_s
    for k in range(n_s):
        fill[k] = 0.0
    for p in range(nm):
        a = lo[p]
        b = hi[p]
        k0 = int(a / width)
        if k0 >= n_s:
            k0 = n_s - 1
        k1 = int(b / width)
        if k1 >= n_s:
            k1 = n_s - 1
        for k in range(k0, k1 + 1):
            s = edges[k] if edges[k] > a else a
            e = edges[k + 1] if edges[k + 1] < b else b
            if e > s:
                fill[k] += e - s
    key = 0
    for k in range(n_s):
        if fill[k] / width > threshold:
            key |= 1 << k
    return key


@njit(**_JIT)
def collides(
    px: float,
    py: float,
    heading: float,
    u: float,
    k: int,
    qx: np.ndarray,
    qy: np.ndarray,
    bx: np.ndarray,
    by: np.ndarray,
    skip: int,
    radius: float,
    dt: float,
    swept: int,
    early_exit: bool,
    cull2: float,
) -> bool:
    """The reference C++'s collision test for an own end state (px, py) reached with speed ``u``
    along ``heading`` at depth ``k``, against the others at ``qx[k]``, ``qy[k]`` (having moved by
    ``bx[k]``, ``by[k]`` in the step; ballistic in the reference): contact
    (distance < 2R) at the end, or a swept contact during the step (``swept``), with the
    reference's early exit for overlapping start positions (``early_exit``).

    ``cull2`` is a squared end distance beyond which no swept collision is possible (an exact
    shortcut: such an agent can trigger neither the early exit nor the swept test).
    """
    two_r = 2.0 * radius
    four_r2 = 4.0 * radius * radius
    ox = u * dt * math.cos(heading)
    oy = u * dt * math.sin(heading)
    ppx = px - ox
    ppy = py - oy
    n = qx.shape[1]
    for j in range(n):
        if j == skip:
            continue
        rx = qx[k, j] - px
        ry = qy[k, j] - py
        e2 = rx * rx + ry * ry
        if e2 > cull2:
            continue
        if math.sqrt(e2) < two_r:
            return True
        rpx = (qx[k, j] - bx[k, j]) - ppx
        rpy = (qy[k, j] - by[k, j]) - ppy
        if early_exit and math.sqrt(rpx * rpx + rpy * rpy) < two_r:
            return False
        if swept == 0:
            # slope-intercept form of the reference; NaN/inf (dx or dy == 0) detect nothing
            m = (ry - rpy) / (rx - rpx)
            c = ry - m * rx
            sx = -c / (m + 1.0 / m)
            sy = -sx / m
            xmin = rpx if rpx < rx else rx
            xmax = rx if rpx < rx else rpx
            if xmin < sx and sx < xmax and sx * sx + sy * sy < four_r2:
                return True
        else:
            dx = rx - rpx
            dy = ry - rpy
            dd = dx * dx + dy * dy
            if dd > 0.0:
                t = -(rpx * dx + rpy * dy) / dd
                if t > 0.0 and t < 1.0:
                    fx = rpx + t * dx
                    fy = rpy + t * dy
                    if fx * fx + fy * fy < four_r2:
                        return True
    return False


@njit(**_JIT)
def _set_insert(table: np.ndarray, key: int, mask: int) -> int:
    """Insert ``key`` into an open-addressing set; return 1 if it was new, else 0."""
    h = ((key * _HASH_MULT) ^ (key >> 29)) & mask
    while True:
        cur = table[h]
        if cur == _EMPTY:
            table[h] = key
            return 1
        if cur == key:
            return 0
        h = (h + 1) & mask


@njit(**_JIT)
def _memo_slot(memo: np.ndarray, level: int, xb: int, yb: int, tb: int) -> int:
    """Slot of node state (level, x, y, theta), given as float bit patterns, in the memo table.

    Returns the slot holding that state, or the empty slot where it belongs (``memo[slot, 0]``
    is -1 there). Keys are compared bit for bit, so a hit is exactly the same node state.
    """
    mask = memo.shape[0] - 1
    h = (level * _HASH_MULT) ^ xb
    h = (h * _HASH_MULT) ^ yb
    h = (h * _HASH_MULT) ^ tb
    h = ((h * _HASH_MULT) ^ (h >> 31)) & mask
    while True:
        if memo[h, 0] == _EMPTY:
            return h
        if memo[h, 0] == level and memo[h, 1] == xb and memo[h, 2] == yb and memo[h, 3] == tb:
            return h
        h = (h + 1) & mask


@njit(**_JIT)
def _branch(
    i: int, a0: int, px0: float, py0: float, th0: float,
    qx: np.ndarray, qy: np.ndarray, bx: np.ndarray, by: np.ndarray, kp: KernelParams,
    edges: np.ndarray, lo: np.ndarray, hi: np.ndarray, fill: np.ndarray, table: np.ndarray,
    ev_pos: np.ndarray, ev_val: np.ndarray, sx: np.ndarray, sy: np.ndarray, sth: np.ndarray,
    mv: np.ndarray, leaf: np.ndarray, memo: np.ndarray, fbits: np.ndarray, stop: np.ndarray,
) -> tuple[int, int, float, int]:  # fmt: skip
    """Walk the branch of agent ``i`` rooted at first move ``a0``.

    ``memo`` (shared by the five branches of agent ``i``) maps a node state (depth, x, y, heading)
    to its visual key: different move sequences often end in bit-identical states (slow-then-fast
    and keep-keep, say, or the same moves under different first moves), and the key of such a
    node is then the same, so it is computed once. In the discrete model this skips about 40% of
    the interval work at horizon 4 and changes no result. ``fbits`` is a float64 scratch of 3.

    Returns ``(n_distinct, n_surviving, w, n_leaf)``: the number of distinct visual states counted
    (depths 1..tau, or tau only in leaf mode), the number of surviving counted nodes, the number of
    surviving depth-tau keys written to ``leaf`` (when ``kp.collect_leaf``), and, in the
    continuous model (``kp.continuous``), W = (1 / (pi n)) * integral of c (n - c) over the
    surviving counted nodes' occupancy functions.
    """
    radius, dt, threshold, cull2 = kp.radius, kp.dt, kp.threshold, kp.cull2
    tau, halfwidth, swept, count_mode = kp.tau, kp.halfwidth, kp.swept, kp.count_mode
    continuous, early_exit, collect = kp.continuous, kp.early_exit, kp.collect_leaf
    speeds, turns = kp.speeds, kp.turns
    mask = table.shape[0] - 1
    for p in range(table.shape[0]):
        table[p] = _EMPTY
    n_distinct = 0
    n_nodes = 0
    n_ev = 0
    n_leaf = 0
    ib = fbits.view(np.int64)  # the bit patterns of the node state written to fbits
    sx[0] = px0
    sy[0] = py0
    sth[0] = th0
    level = 1
    mv[1] = a0
    while level >= 1:
        if stop[0] != 0:  # Ctrl-C (see swarm_gym.interrupts): the caller discards the result
            break
        move = mv[level]
        th = sth[level - 1] + turns[move]
        u = speeds[move]
        x = sx[level - 1] + u * dt * math.cos(th)
        y = sy[level - 1] + u * dt * math.sin(th)
        expand = False
        if not collides(x, y, th, u, level, qx, qy, bx, by, i, radius, dt, swept, early_exit,
                        cull2):  # fmt: skip
            if count_mode == 0 or level == tau:
                slot = -1
                if not continuous:
                    fbits[0] = x
                    fbits[1] = y
                    fbits[2] = th
                    slot = _memo_slot(memo, level, ib[0], ib[1], ib[2])
                if slot >= 0 and memo[slot, 0] != _EMPTY:
                    key = memo[slot, 4]
                    nm = 0
                else:
                    m = build_intervals(
                        x, y, th, qx[level], qy[level], i, radius, halfwidth, lo, hi
                    )
                    nm = merge_intervals(lo, hi, m)
                    key = key_from_intervals(lo, hi, nm, edges, threshold, fill)
                    if slot >= 0:
                        memo[slot, 0] = level
                        memo[slot, 1] = ib[0]
                        memo[slot, 2] = ib[1]
                        memo[slot, 3] = ib[2]
                        memo[slot, 4] = key
                n_distinct += _set_insert(table, key, mask)
                n_nodes += 1
                if collect and level == tau:
                    leaf[n_leaf] = key
                    n_leaf += 1
                if continuous:
                    for p in range(nm):
                        ev_pos[n_ev] = lo[p]
                        ev_val[n_ev] = 1.0
                        ev_pos[n_ev + 1] = hi[p]
                        ev_val[n_ev + 1] = -1.0
                        n_ev += 2
            if level < tau:
                sx[level] = x
                sy[level] = y
                sth[level] = th
                level += 1
                mv[level] = 0
                expand = True
        if not expand:
            # next sibling, climbing up when a level is exhausted; level 1 has one move only
            while level >= 1:
                if level == 1:
                    level = 0
                    break
                mv[level] += 1
                if mv[level] < 5:
                    break
                level -= 1
    w = 0.0
    if continuous:
        if n_nodes == 0:
            w = -1.0
        else:
            order = np.argsort(ev_pos[:n_ev], kind="mergesort")
            c = 0.0
            prev = 0.0
            total = 0.0
            nn = float(n_nodes)
            for q in range(n_ev):
                p = order[q]
                total += c * (nn - c) * (ev_pos[p] - prev)
                prev = ev_pos[p]
                c += ev_val[p]
            w = total / (math.pi * nn)
    return n_distinct, n_nodes, w, n_leaf


@njit(**_JIT)
def _score_agent(
    i: int, pos: np.ndarray, th: np.ndarray, kp: KernelParams,
    qx: np.ndarray, qy: np.ndarray, bx: np.ndarray, by: np.ndarray, stop: np.ndarray,
    edges: np.ndarray, ev_len: int, msize: int,
    counts: np.ndarray, nodes: np.ndarray, weights: np.ndarray, leaf_keys: np.ndarray,
    n_leaf: np.ndarray,
) -> None:  # fmt: skip
    """The five branches of agent ``i`` (one task of :func:`branch_scores_against`), with scratch
    memory allocated once for them."""
    n = pos.shape[0]
    tau = kp.tau
    continuous = kp.continuous
    lo = np.empty(2 * n + 2)
    hi = np.empty(2 * n + 2)
    fill = np.empty(kp.n_sensors)
    table = np.empty(kp.table_size, dtype=np.int64)
    ev_pos = np.empty(ev_len)
    ev_val = np.empty(ev_len)
    sx = np.empty(tau + 1)
    sy = np.empty(tau + 1)
    sth = np.empty(tau + 1)
    mv = np.zeros(tau + 1, dtype=np.int64)
    memo = np.full((1 if continuous else msize, 5), _EMPTY, dtype=np.int64)
    fbits = np.empty(3)
    for a0 in range(5):
        c, nd, w, nl = _branch(
            i, a0, pos[i, 0], pos[i, 1], th[i], qx, qy, bx, by, kp, edges,
            lo, hi, fill, table, ev_pos, ev_val, sx, sy, sth, mv, leaf_keys[i, a0], memo,
            fbits, stop,
        )  # fmt: skip
        counts[i, a0] = c
        nodes[i, a0] = nd
        weights[i, a0] = w
        n_leaf[i, a0] = nl


@fork_safe
@njit(parallel=True, **_JIT)
def branch_scores_against(
    pos: np.ndarray, th: np.ndarray, agents: np.ndarray, kp: KernelParams,
    qx: np.ndarray, qy: np.ndarray, bx: np.ndarray, by: np.ndarray, stop: np.ndarray,
    counts: np.ndarray, nodes: np.ndarray, weights: np.ndarray, leaf_keys: np.ndarray,
    n_leaf: np.ndarray,
) -> None:  # fmt: skip
    """Score the 5 first moves of each agent in ``agents`` from the step snapshot (pos, th)
    against the others' positions ``qx[k, j]``, ``qy[k, j]`` at depths k = 0..tau (and the
    displacements ``bx``, ``by`` into them; see :func:`ballistic_table`), writing its rows of the
    outputs (the other rows are left as they are).

    Args:
        pos: (N, 2) float64 positions; th: (N,) float64 headings.
        agents: (K,) int64 indices of the agents whose branches are computed.
        kp: the :class:`~swarm_gym.kernel_params.KernelParams` of the config.
        qx, qy, bx, by: (tau + 1, N) float64 tables of the others.
        stop: (1,) int64; the search ends early once ``stop[0]`` is not 0 (set by another thread
            on Ctrl-C, :func:`swarm_gym.interrupts.run_in_blocks`), its results then meaningless.
        counts, nodes, weights, leaf_keys, n_leaf: the outputs: (N, 5) int64 distinct visual
            states per branch, (N, 5) int64 surviving counted nodes, (N, 5) float64 continuous
            weights W (left alone in discrete mode), and, when ``kp.collect_leaf``, the
            visual-state keys of the surviving depth-tau nodes of each branch, (N, 5,
            5**(tau-1)) int64 with (N, 5) valid lengths.
    """
    n = pos.shape[0]
    tau = kp.tau
    continuous = kp.continuous
    n_s = kp.n_sensors
    edges = sensor_edges(n_s)
    max_nodes = (5**tau - 1) // 4
    ev_len = 2 * (2 * n + 2) * max_nodes if continuous else 1
    # one task per agent: its five branches share the memo of node keys (see _branch)
    msize = 1 << max(4, math.ceil(math.log2(2 * 5 * max_nodes + 1)))
    for r in prange(agents.shape[0]):
        if stop[0] == 0:
            _score_agent(agents[r], pos, th, kp, qx, qy, bx, by, stop, edges, ev_len, msize,
                         counts, nodes, weights, leaf_keys, n_leaf)  # fmt: skip


@fork_safe
@njit(parallel=True, **_JIT)
def visual_rows(
    pos: np.ndarray, th: np.ndarray, agents: np.ndarray, radius: float, halfwidth: int,
    n_s: int, threshold: float, keys: np.ndarray, coverage: np.ndarray,
) -> None:  # fmt: skip
    """Write the depth-0 visual state of each agent in ``agents`` into ``keys[i]`` and
    ``coverage[i]`` (see :func:`visual_states`).

    The pieces are :func:`collect_pieces` (the tree search's own), ordered by an argsort: O(N log
    N) per agent where :func:`build_intervals`' insertion sort is O(N^2). The merged intervals do
    not depend on the order of pieces with equal starts, so the keys and coverages are those of
    :func:`build_intervals` (tested).
    """
    n = pos.shape[0]
    edges = sensor_edges(n_s)
    qx = np.ascontiguousarray(pos[:, 0])
    qy = np.ascontiguousarray(pos[:, 1])
    for r in prange(agents.shape[0]):
        i = agents[r]
        lo = np.empty(2 * n + 2)
        hi = np.empty(2 * n + 2)
        fill = np.empty(n_s)
        m = collect_pieces(pos[i, 0], pos[i, 1], th[i], qx, qy, i, radius, halfwidth, lo, hi)
        order = np.argsort(lo[:m])
        slo = np.empty(m)
        shi = np.empty(m)
        for p in range(m):
            slo[p] = lo[order[p]]
            shi[p] = hi[order[p]]
        nm = merge_intervals(slo, shi, m)
        keys[i] = key_from_intervals(slo, shi, nm, edges, threshold, fill)
        tot = 0.0
        for p in range(nm):
            tot += shi[p] - slo[p]
        coverage[i] = tot / TWO_PI


def visual_states(
    pos: np.ndarray, th: np.ndarray, radius: float, halfwidth: int, n_s: int, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Depth-0 visual state of every agent against the others' actual positions.

    Returns ``(keys, coverage)``: (N,) int64 packed sensor bits and (N,) float64 fraction of
    [0, 2*pi) covered by the union of the others' angular intervals (the opacity proxy). Large
    flocks are computed in blocks of agents, so Ctrl-C stops it within about a second
    (:mod:`swarm_gym.interrupts`).
    """
    pos = np.require(pos, dtype=np.float64, requirements=["C"])
    th = np.require(th, dtype=np.float64, requirements=["C"])
    n = pos.shape[0]
    keys = np.zeros(n, dtype=np.int64)
    coverage = np.zeros(n)

    def run(agents: np.ndarray, stop: np.ndarray) -> None:  # one agent is quick: no stop flag
        visual_rows(pos, th, agents, radius, halfwidth, n_s, threshold, keys, coverage)

    with deferred_interrupts():
        run_in_blocks(np.arange(n, dtype=np.int64), n * math.log2(max(n, 2)), run)
    return keys, coverage
