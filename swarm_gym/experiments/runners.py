"""The experiment runners: reproduce the paper's flock, steer it, sweep steering settings.

Each runner takes a preset (a name or a typed preset, see :mod:`swarm_gym.experiments.presets`),
runs the swarm, writes its files (CSV, JSON, and through :mod:`swarm_gym.experiments.figures`
the plots and GIFs) and returns its summary as a JSON-ready dict. The runners read the swarm only
through :attr:`swarm_gym.model.FSMSwarm.view`.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numba
import numpy as np
from tqdm.auto import tqdm

from swarm_gym import metrics as M
from swarm_gym.decision import MOVES
from swarm_gym.experiments.figures import (
    FlockCamera,
    path_frame,
    plot_order_parameter,
    plot_steering,
    save_gif,
)
from swarm_gym.experiments.presets import (
    REPRODUCE_PRESETS,
    STEER_PRESETS,
    ReproducePreset,
    SteerPreset,
    as_steer_preset,
    check_settings,
)
from swarm_gym.model import FSMSwarm
from swarm_gym.steering import Steering
from swarm_gym.view import SwarmView


def _versions() -> dict[str, Any]:
    # importing dexterous_gym loads MuJoCo and gymnasium-robotics: only for the run record
    from dexterous_gym.provenance import environment_versions

    return environment_versions(("dexterous-gym", "numpy", "numba"))


def _frame_metrics(sw: FSMSwarm) -> dict[str, float]:
    m = sw.metrics()
    m["t"] = sw.t
    return m


def _progress(total: int, desc: str) -> Any:
    return tqdm(total=total, desc=desc, unit="step")


def _correlation(sw: FSMSwarm) -> tuple[float, float]:
    """(xi, L): zero crossing of C(r) and the largest pair distance, for the current frame."""
    pos, vel = sw.view.positions, sw.velocities
    r, c, _ = M.velocity_correlation(pos, vel, n_bins=20)
    return M.zero_crossing(r, c), float(M.pair_distances(pos).max())


def _summary(rows: list[dict[str, float]], burn_in: int) -> dict[str, Any]:
    keys = [k for k in rows[0] if k != "t"]
    sel = [r for r in rows if r["t"] >= burn_in]
    return {k: {"mean": float(np.mean([r[k] for r in sel])),
                "sd": float(np.std([r[k] for r in sel]))} for k in keys}  # fmt: skip


def _named(preset: str | Any, table: Mapping[str, Any]) -> tuple[str, Any]:
    if isinstance(preset, str):
        if preset not in table:
            raise ValueError(f"unknown preset {preset!r}; expected one of {sorted(table)}")
        return preset, table[preset]
    return "custom", preset


def reproduce(preset: str | ReproducePreset, out: Path, gif: bool = True) -> dict[str, Any]:
    """Run the reference model and write metrics, a plot and a GIF; return the summary."""
    name, p = _named(preset, REPRODUCE_PRESETS)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"preset": name, "params": p.to_dict(), "versions": _versions(),
                              "seeds": {}}  # fmt: skip
    phi_curves = {}
    for seed in p.seeds:
        sw = FSMSwarm(p.n_agents, p.horizon, seed=seed)
        rows = [_frame_metrics(sw)]
        moves = np.zeros(5, dtype=np.int64)
        xi_over_l: list[float] = []
        frames: list[np.ndarray] = []
        camera = FlockCamera(min_half=60.0)
        t0 = time.perf_counter()
        bar = _progress(p.steps, f"reproduce seed {seed}")
        for _ in range(p.steps):
            acts = sw.step()
            if sw.t > p.burn_in:
                moves += np.bincount(acts, minlength=5)
            rows.append(_frame_metrics(sw))
            if sw.t >= p.burn_in and sw.t % 10 == 0:
                xi, length = _correlation(sw)
                if np.isfinite(xi):
                    xi_over_l.append(xi / length)
            if gif and seed == p.seeds[0] and sw.t % p.gif_every == 0:
                caption = f"t={sw.t}  phi={rows[-1]['order_parameter']:.3f}"
                frames.append(camera.frame(sw.view, caption))
            bar.update(1)
        bar.close()
        wall = time.perf_counter() - t0
        with open(out / f"reproduce_seed{seed}.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        summ = _summary(rows, p.burn_in)
        summ["order_parameter_t0"] = rows[0]["order_parameter"]
        summ["move_mix"] = dict(zip(MOVES, (moves / max(moves.sum(), 1)).round(4).tolist(),
                                    strict=True))  # fmt: skip
        summ["xi_over_L"] = {"mean": float(np.mean(xi_over_l)) if xi_over_l else float("nan"),
                             "sd": float(np.std(xi_over_l)) if xi_over_l else float("nan"),
                             "n_frames": len(xi_over_l)}  # fmt: skip
        summ["seconds_per_step"] = wall / p.steps
        result["seeds"][str(seed)] = summ
        phi_curves[seed] = [r["order_parameter"] for r in rows]
        if frames:
            save_gif(out / "flock.gif", frames)
    phis = [result["seeds"][str(s)]["order_parameter"]["mean"] for s in p.seeds]
    result["order_parameter_mean_over_seeds"] = float(np.mean(phis))
    result["order_parameter_min_over_seeds"] = float(np.min(phis))
    plot_order_parameter(out / "order_parameter.png", phi_curves, p.burn_in)
    (out / "reproduce_summary.json").write_text(json.dumps(result, indent=2))
    return result


def _mean_heading(th: np.ndarray) -> float:
    return float(math.atan2(np.sin(th).sum(), np.cos(th).sum()))


def _angle_diff(a: float, b: float) -> float:
    return abs((a - b + math.pi) % (2 * math.pi) - math.pi)


def _dist_to_path(p: np.ndarray, path: np.ndarray) -> float:
    best = np.inf
    for a, b in itertools.pairwise(path):
        ab = b - a
        t = np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0.0, 1.0)
        best = min(best, float(np.hypot(*(a + t * ab - p))))
    return best


def steer_turn(p: SteerPreset | Mapping[str, Any], seed: int, name: str) -> dict[str, Any]:
    """Target direction 0 until ``turn_step``, then 90 degrees; informed agents by variant
    ``name``. ``p``: a :class:`SteerPreset` or its plain-dict form."""
    p = as_steer_preset(p)
    kw = p.settings(name)
    st = Steering(target_angle=0.0, turn_angle=math.pi / 2, turn_step=p.turn_step, seed=seed,
                  **kw)  # fmt: skip
    sw = FSMSwarm(p.n_agents, p.horizon, seed=seed, steering=st)
    view: SwarmView = sw.view
    total = p.turn_step + p.after
    heading, phi, heading_lc, phi_lc = [], [], [], []
    bar = _progress(total, f"turn {name} seed {seed}")
    for _ in range(total):
        sw.step()
        th = view.headings
        heading.append(_mean_heading(th))
        phi.append(M.order_parameter(th))
        lc = M.largest_cluster(view.positions)
        heading_lc.append(_mean_heading(th[lc]))
        phi_lc.append(M.order_parameter(th[lc]))
        bar.update(1)
    bar.close()
    target = math.pi / 2
    after = range(p.turn_step, total)

    def first_within(h: list[float]) -> int | None:
        within = [t for t in after if _angle_diff(h[t], target) < math.radians(20)]
        return (within[0] + 1 - p.turn_step) if within else None

    phi_after = np.array([phi[t] for t in after])
    largest = M.largest_cluster(view.positions)
    steps = first_within(heading)
    return {
        "success": steps is not None and steps <= p.after and float(phi_after.min()) >= 0.9,
        "seed": seed, "variant": name, "steering": kw,
        "steps_to_within_20deg": steps,
        "steps_to_within_20deg_largest_cluster": first_within(heading_lc),
        "final_heading_error_deg": math.degrees(_angle_diff(heading[-1], target)),
        "order_parameter_min_after_turn": float(phi_after.min()),
        "order_parameter_mean_after_turn": float(phi_after.mean()),
        "order_parameter_largest_cluster_min_after_turn": float(min(phi_lc[p.turn_step:])),
        "largest_cluster_fraction_end": len(largest) / p.n_agents,
        "informed_in_largest_cluster_end": int(np.isin(st.informed, largest).sum()),
        "n_informed": len(st.informed),
        "heading": heading, "phi": phi,
    }  # fmt: skip


def steer_path(
    p: SteerPreset | Mapping[str, Any],
    seed: int,
    path_name: str,
    frames: list[np.ndarray] | None,
) -> dict[str, Any]:
    """Informed agents aim at the active waypoint; the flock centre should follow the path.
    Frames of the run are appended to ``frames`` unless it is None."""
    p = as_steer_preset(p)
    spec = p.paths[path_name]
    wp = np.asarray(spec.waypoints, dtype=np.float64)
    kw = p.settings(spec.variant)
    st = Steering(waypoints=wp, reach=spec.reach, seed=seed, **kw)
    sw = FSMSwarm(p.n_agents, p.horizon, seed=seed, steering=st)
    view: SwarmView = sw.view
    path = np.vstack([view.positions.mean(axis=0), wp])
    centres, phi = [view.positions.mean(axis=0)], []
    bar = _progress(spec.steps, f"path {path_name} seed {seed}")
    for _ in range(spec.steps):
        sw.step()
        centres.append(view.positions.mean(axis=0))
        phi.append(M.order_parameter(view.headings))
        if frames is not None and sw.t % p.gif_every == 0:
            frames.append(path_frame(view, wp, st.informed, st.waypoint_index))
        bar.update(1)
        if st.done:
            break
    bar.close()
    centres_arr = np.array(centres)
    dev = [_dist_to_path(c, path) for c in centres_arr]
    largest = M.largest_cluster(view.positions)
    return {
        "seed": seed, "path": path_name, "variant": spec.variant, "steering": kw,
        "waypoints_reached": len(st.reached_at), "n_waypoints": len(wp),
        "reached_at_step": list(st.reached_at),
        "centre_path_deviation_mean": float(np.mean(dev)),
        "centre_path_deviation_max": float(np.max(dev)),
        "order_parameter_mean": float(np.mean(phi)),
        "largest_cluster_fraction_end": len(largest) / p.n_agents,
        "centres": centres_arr.tolist(),
    }  # fmt: skip


def steer(preset: str | SteerPreset, out: Path, gif: bool = True) -> dict[str, Any]:
    """Run the turn and path experiments; write JSON, plots and a GIF; return the summary."""
    name, p = _named(preset, STEER_PRESETS)
    p.check_names()
    out.mkdir(parents=True, exist_ok=True)
    turns = [steer_turn(p, s, variant) for variant in p.turn_variants for s in p.seeds]
    paths = []
    for path_name in p.paths:
        frames: list[np.ndarray] = []  # a GIF of each path's first seed
        paths += [steer_path(p, s, path_name, frames if (gif and i == 0) else None)
                  for i, s in enumerate(p.seeds)]  # fmt: skip
        if frames:
            save_gif(out / f"steer_path_{path_name}.gif", frames)
    plot_steering(out / "steering.png", p, turns, paths)
    strip = ("heading", "phi", "centres")
    result = {
        "preset": name, "params": p.to_dict(), "versions": _versions(),
        "turn": [{k: v for k, v in r.items() if k not in strip} for r in turns],
        "path": [{k: v for k, v in r.items() if k not in strip} for r in paths],
    }  # fmt: skip
    (out / "steer_summary.json").write_text(json.dumps(result, indent=2))
    return result


def _sweep_job(job: tuple[SteerPreset, str, int]) -> dict[str, Any]:
    """One turn experiment of a sweep, in a worker process with one numba thread."""
    os.environ["TQDM_DISABLE"] = "1"  # one bar, the parent's
    numba.set_num_threads(1)
    p, name, seed = job
    r = steer_turn(p, seed, name)
    return {k: v for k, v in r.items() if k not in ("heading", "phi")}


def check_variants(variants: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise ValueError naming the first variant whose settings are not valid
    :class:`~swarm_gym.steering.SteeringConfig` settings."""
    for name, kw in variants.items():
        check_settings(name, kw)


def sweep(
    variants: Mapping[str, Mapping[str, Any]],
    seeds: list[int],
    out: Path,
    jobs: int = 1,
    preset: str | SteerPreset = "paper",
) -> dict[str, Any]:
    """Run the turn experiment for every (variant, seed) on ``jobs`` processes.

    ``variants`` maps a name to ``Steering`` settings (``fraction`` may be among them); the rest of
    the set-up is the ``steer`` preset's. Results go to ``out`` (JSON, rewritten after every run).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    check_variants(variants)
    _, base = _named(preset, STEER_PRESETS)
    p = base.with_variants(variants)
    todo = [(p, name, seed) for name in variants for seed in seeds]
    params = {k: v for k, v in p.to_dict().items() if k != "variants"}
    runs: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    # tqdm's default lock is a multiprocessing semaphore that spawn pools report as leaked
    tqdm.set_lock(threading.RLock())
    bar = _progress(len(todo), "sweep")
    with mp.get_context("spawn").Pool(jobs) as pool:
        for r in pool.imap_unordered(_sweep_job, todo):
            runs.append(r)
            bar.update(1)
            summary = {
                "params": params, "variants": variants,
                "seeds": seeds, "versions": _versions(), "runs": runs,
                "success": {n: [x["seed"] for x in runs if x["variant"] == n and x["success"]]
                            for n in variants},
            }  # fmt: skip
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".tmp-{out.name}")
            tmp.write_text(json.dumps(summary, indent=1))
            tmp.replace(out)
    bar.close()
    return summary
