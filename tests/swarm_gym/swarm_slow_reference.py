"""A deliberately plain, slow, independent implementation of the FSM decision of the reference C++.

Written from a prose description of the reference C++ (Charlesworth & Turner, PNAS 2019) with
Python floats, recursion and sets of bit tuples; it shares no code
with swarm_gym.kernels and is used only by the tests to check the fast kernel's branch counts.
"""

from __future__ import annotations

import math

TWO_PI = 2.0 * math.pi
SPEED = {0: 0.0, 1: 0.0, 2: -1.0, 3: 0.0, 4: 1.0}  # times dv, added to v0
TURN = {0: -1.0, 1: 1.0, 2: 0.0, 3: 0.0, 4: 0.0}  # times dtheta


def visual_bits(cx, cy, heading, others, R=1.0, n_s=40, halfwidth="atan", threshold=0.5):
    """Tuple of n_s bits seen from (cx, cy) with the given heading."""
    pieces = []
    for qx, qy in others:
        rx, ry = qx - cx, qy - cy
        d = math.sqrt(rx * rx + ry * ry)
        if d == 0.0:
            continue
        arg = (math.cos(heading) * rx + math.sin(heading) * ry) / d
        if arg > 1.0 or arg < -1.0:
            continue  # the C++ gets NaN from acos and skips the agent
        beta = math.acos(arg)
        if math.cos(heading) * ry - math.sin(heading) * rx < 0:
            beta = TWO_PI - beta
        if halfwidth == "atan":
            w = math.atan(R / d)
        elif d > R:
            w = math.asin(R / d)
        else:
            w = math.pi / 2
        lo, hi = beta - w, beta + w
        if lo < 0:
            pieces += [(0.0, hi), (TWO_PI + lo, TWO_PI)]
        elif hi > TWO_PI:
            pieces += [(0.0, hi - TWO_PI), (lo, TWO_PI)]
        else:
            pieces.append((lo, hi))
    pieces.sort()
    merged = []
    for lo, hi in pieces:
        if merged and lo < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    width = TWO_PI / n_s
    bits = []
    for k in range(n_s):
        s, e = k * width, (k + 1) * width
        cover = sum(max(0.0, min(e, hi) - max(s, lo)) for lo, hi in merged)
        bits.append(1 if cover / width > threshold else 0)
    return tuple(bits), merged


def collides(p, heading, u, others_end, others_heading, v0, R=1.0, early_exit=True, swept="slope"):
    """The reference collision test for the own end state p (reached at speed u along heading)."""
    px, py = p
    ppx, ppy = px - u * math.cos(heading), py - u * math.sin(heading)
    for (qx, qy), th in zip(others_end, others_heading, strict=True):
        if math.hypot(qx - px, qy - py) < 2 * R:
            return True
        qpx, qpy = qx - v0 * math.cos(th), qy - v0 * math.sin(th)
        r0 = (qpx - ppx, qpy - ppy)
        r1 = (qx - px, qy - py)
        if early_exit and math.hypot(*r0) < 2 * R:
            return False
        if swept == "slope":
            dx, dy = r1[0] - r0[0], r1[1] - r0[1]
            if dx == 0.0 or dy == 0.0:
                continue  # the slope form detects nothing here
            m = dy / dx
            c = r1[1] - m * r1[0]
            sx = -c / (m + 1 / m)
            sy = -sx / m
            if min(r0[0], r1[0]) < sx < max(r0[0], r1[0]) and sx * sx + sy * sy < 4 * R * R:
                return True
        else:
            dx, dy = r1[0] - r0[0], r1[1] - r0[1]
            dd = dx * dx + dy * dy
            if dd == 0:
                continue
            t = -(r0[0] * dx + r0[1] * dy) / dd
            if 0 < t < 1 and math.hypot(r0[0] + t * dx, r0[1] + t * dy) < 2 * R:
                return True
    return False


def branch_counts(pos, th, i, tau, v0=10.0, dv=2.0, dtheta=math.pi / 12, R=1.0, n_s=40,
                  halfwidth="atan", early_exit=True, swept="slope", leaf_only=False):  # fmt: skip
    """List of the 5 n_alpha of agent i (distinct visual states on each branch)."""
    others = [j for j in range(len(pos)) if j != i]

    def future(j, k):
        x, y = pos[j]
        for _ in range(k):
            x += v0 * math.cos(th[j])
            y += v0 * math.sin(th[j])
        return (x, y)

    table = {k: [future(j, k) for j in others] for k in range(tau + 1)}
    heads = [th[j] for j in others]
    out = []
    for first in range(5):
        seen = set()

        def visit(x, y, h, move, depth, seen=seen):
            h2 = h + TURN[move] * dtheta
            u = v0 + SPEED[move] * dv
            x2, y2 = x + u * math.cos(h2), y + u * math.sin(h2)
            if collides((x2, y2), h2, u, table[depth], heads, v0, R, early_exit, swept):
                return
            if not leaf_only or depth == tau:
                seen.add(visual_bits(x2, y2, h2, table[depth], R, n_s, halfwidth)[0])
            if depth < tau:
                for a in range(5):
                    visit(x2, y2, h2, a, depth + 1, seen)

        visit(pos[i][0], pos[i][1], th[i], first, 1)
        out.append(len(seen))
    return out


def branch_visual_sets(pos, th, i, tau, v0=10.0, dv=2.0, dtheta=math.pi / 12, R=1.0):
    """For the continuous model: per first move, the merged intervals of every surviving node."""
    others = [j for j in range(len(pos)) if j != i]
    table = {}
    for k in range(tau + 1):
        table[k] = [(pos[j][0] + k * v0 * math.cos(th[j]), pos[j][1] + k * v0 * math.sin(th[j]))
                    for j in others]  # fmt: skip
    heads = [th[j] for j in others]
    out = []
    for first in range(5):
        nodes = []

        def visit(x, y, h, move, depth, nodes=nodes):
            h2 = h + TURN[move] * dtheta
            u = v0 + SPEED[move] * dv
            x2, y2 = x + u * math.cos(h2), y + u * math.sin(h2)
            if collides((x2, y2), h2, u, table[depth], heads, v0, R):
                return
            nodes.append(visual_bits(x2, y2, h2, table[depth], R)[1])
            if depth < tau:
                for a in range(5):
                    visit(x2, y2, h2, a, depth + 1, nodes)

        visit(pos[i][0], pos[i][1], th[i], first, 1)
        out.append(nodes)
    return out


def soft_weight(nodes):
    """W = (1/n) sum_i sum_j d_ij, with d_ij the fraction of [0, 2 pi) where two states differ."""
    n = len(nodes)
    if n == 0:
        return -1.0

    def length(iv):
        return sum(b - a for a, b in iv)

    def inter(a_iv, b_iv):
        return sum(max(0.0, min(b1, b2) - max(a1, a2)) for a1, b1 in a_iv for a2, b2 in b_iv)

    total = 0.0
    for a in nodes:
        for b in nodes:
            total += (length(a) + length(b) - 2 * inter(a, b)) / TWO_PI
    return total / n
