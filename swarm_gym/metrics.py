"""Swarm metrics, pure numpy: order parameter, nearest-neighbour distance, opacity, sensor-on
fraction, overlaps, clusters, and the velocity-fluctuation correlation C(r) with its zero crossing.
"""

from __future__ import annotations

import numpy as np


def order_parameter(headings: np.ndarray) -> float:
    """phi = |sum_i v_hat_i| / N over unit heading vectors (1 = perfectly aligned)."""
    th = np.asarray(headings, dtype=np.float64)
    return float(np.hypot(np.cos(th).sum(), np.sin(th).sum()) / th.shape[-1])


def pair_distances(positions: np.ndarray) -> np.ndarray:
    """(N, N) centre distances."""
    p = np.asarray(positions, dtype=np.float64)
    diff = p[:, None, :] - p[None, :, :]
    return np.sqrt((diff**2).sum(-1))


def nearest_neighbour_distances(positions: np.ndarray) -> np.ndarray:
    """(N,) distance from each agent to its nearest neighbour."""
    d = pair_distances(positions)
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1)


def mean_nn_distance(positions: np.ndarray) -> float:
    """Mean nearest-neighbour centre distance (in radii)."""
    return float(nearest_neighbour_distances(positions).mean())


def overlapping_pairs(positions: np.ndarray, radius: float = 1.0) -> int:
    """Number of pairs with centre distance < 2R."""
    d = pair_distances(positions)
    return int(np.triu(d < 2.0 * radius, k=1).sum())


def coverage(positions: np.ndarray, radius: float = 1.0, halfwidth: str = "atan") -> np.ndarray:
    """(N,) fraction of each agent's 2*pi visual field covered by the union of the others' discs.

    Each other agent at distance d subtends [b - w, b + w] with w = atan(R/d) (the reference) or
    asin(R/d). The union is exact (sort and merge); agents at distance 0 are ignored.
    """
    p = np.asarray(positions, dtype=np.float64)
    n = p.shape[0]
    out = np.zeros(n)
    two_pi = 2.0 * np.pi
    for i in range(n):
        rel = np.delete(p, i, axis=0) - p[i]
        d = np.hypot(rel[:, 0], rel[:, 1])
        keep = d > 0
        rel, d = rel[keep], d[keep]
        b = np.mod(np.arctan2(rel[:, 1], rel[:, 0]), two_pi)
        if halfwidth == "atan":
            w = np.arctan(radius / d)
        else:
            w = np.where(d > radius, np.arcsin(np.minimum(radius / d, 1.0)), np.pi / 2)
        lo, hi = b - w, b + w
        # split the pieces crossing 0 or 2*pi
        # pieces: the main one clipped to [0, 2*pi], the part below 0 wrapped to the top, the
        # part above 2*pi wrapped to the bottom (absent pieces have zero length)
        zero = np.zeros_like(lo)
        lo_all = np.concatenate([np.maximum(lo, 0.0), np.where(lo < 0, lo + two_pi, 0.0), zero])
        hi_all = np.concatenate(
            [np.minimum(hi, two_pi), np.where(lo < 0, two_pi, 0.0), np.maximum(hi - two_pi, 0.0)]
        )
        order = np.argsort(lo_all, kind="stable")
        lo_s, hi_s = lo_all[order], hi_all[order]
        total, cur_lo, cur_hi = 0.0, None, None
        for a, c in zip(lo_s, hi_s, strict=True):
            if c <= a:
                continue
            if cur_hi is None or a > cur_hi:
                if cur_hi is not None:
                    total += cur_hi - cur_lo
                cur_lo, cur_hi = a, c
            else:
                cur_hi = max(cur_hi, c)
        if cur_hi is not None:
            total += cur_hi - cur_lo
        out[i] = total / two_pi
    return out


_coverage = coverage


def opacity(positions: np.ndarray, radius: float = 1.0, halfwidth: str = "atan") -> float:
    """Mean over agents of the covered fraction of the visual field: a proxy for the "marginally
    opaque" flock of the talk (docs/swarm.md compares it with runs of the reference C++)."""
    return float(coverage(positions, radius, halfwidth).mean())


def sensor_on_fraction(bits: np.ndarray) -> float:
    """Fraction of sensors that are on, over all agents."""
    return float(np.asarray(bits, dtype=np.float64).mean())


def cluster_labels(positions: np.ndarray, link: float = 30.0) -> np.ndarray:
    """(N,) connected-component label of each agent, linking pairs closer than ``link``."""
    adj = pair_distances(positions) < link
    n = adj.shape[0]
    labels = np.full(n, -1, dtype=np.int64)
    current = 0
    for start in range(n):
        if labels[start] >= 0:
            continue
        frontier = np.array([start])
        labels[start] = current
        while frontier.size:
            nbrs = np.nonzero(adj[frontier].any(axis=0) & (labels < 0))[0]
            labels[nbrs] = current
            frontier = nbrs
        current += 1
    return labels


def largest_cluster(positions: np.ndarray, link: float = 30.0) -> np.ndarray:
    """Indices of the agents in the largest cluster (ties: the lowest label)."""
    labels = cluster_labels(positions, link)
    sizes = np.bincount(labels)
    return np.nonzero(labels == np.argmax(sizes))[0]


def velocity_correlation(
    positions: np.ndarray,
    velocities: np.ndarray,
    n_bins: int = 20,
    r_max: float | None = None,
    normalize: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binned correlation of velocity fluctuations, C(r) = <u_i . u_j> over pairs at distance r.

    u_i = v_i - <v> (Cavagna et al. 2010). With ``normalize`` the fluctuations are divided by
    sqrt(<|u|^2>) so that C is dimensionless. Pairs i != j only.

    Returns ``(r_centres, C, pair_counts)``; bins with no pair have C = NaN.
    """
    p = np.asarray(positions, dtype=np.float64)
    v = np.asarray(velocities, dtype=np.float64)
    u = v - v.mean(axis=0)
    if normalize:
        scale = np.sqrt((u**2).sum(axis=1).mean())
        if scale > 0:
            u = u / scale
    d = pair_distances(p)
    iu = np.triu_indices(p.shape[0], k=1)
    r = d[iu]
    dots = (u @ u.T)[iu]
    if r_max is None:
        r_max = float(r.max()) if r.size else 1.0
    edges = np.linspace(0.0, r_max, n_bins + 1)
    idx = np.clip(np.digitize(r, edges) - 1, 0, n_bins - 1)
    sums = np.bincount(idx, weights=dots, minlength=n_bins)
    counts = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return 0.5 * (edges[1:] + edges[:-1]), c, counts


def zero_crossing(r: np.ndarray, c: np.ndarray) -> float:
    """First r where C(r) crosses zero from above (linear interpolation); NaN if it never does."""
    r = np.asarray(r, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    ok = np.isfinite(c)
    r, c = r[ok], c[ok]
    for k in range(1, len(c)):
        if c[k - 1] > 0 >= c[k]:
            return float(r[k - 1] + (r[k] - r[k - 1]) * c[k - 1] / (c[k - 1] - c[k]))
    return float("nan")


def correlation_length(positions: np.ndarray, velocities: np.ndarray, n_bins: int = 20) -> float:
    """Zero crossing xi of C(r), divided by nothing (in radii); see :func:`velocity_correlation`."""
    r, c, _ = velocity_correlation(positions, velocities, n_bins=n_bins)
    return zero_crossing(r, c)


def swarm_metrics(
    positions: np.ndarray,
    headings: np.ndarray,
    radius: float = 1.0,
    bits: np.ndarray | None = None,
    coverage: np.ndarray | None = None,
    cluster_link: float = 30.0,
) -> dict[str, float]:
    """All scalar metrics of one frame as a dict.

    ``coverage`` (per-agent covered fraction) is computed with :func:`coverage` when not given;
    ``sensor_on_fraction`` is NaN when ``bits`` is not given.
    """
    if coverage is None:
        coverage = _coverage(positions, radius)
    labels = cluster_labels(positions, cluster_link)
    largest = int(np.bincount(labels).max())
    n = len(headings)
    return {
        "order_parameter": order_parameter(headings),
        "mean_nn_distance": mean_nn_distance(positions),
        "opacity": float(np.mean(coverage)),
        "sensor_on_fraction": sensor_on_fraction(bits) if bits is not None else float("nan"),
        "overlapping_pairs": float(overlapping_pairs(positions, radius)),
        "largest_cluster_fraction": largest / n,
        "n_lost": float(n - largest),
    }
