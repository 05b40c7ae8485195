"""Reproduce the FSM swarm's science and the steering results from the command line.

    python -m swarm_gym.experiments reproduce --preset paper --out docs/results/swarm
    python -m swarm_gym.experiments steer --preset paper --out docs/results/swarm
    python -m swarm_gym.experiments sweep --variants V.json --seeds 0 1 2 --jobs 16 --out S.json

``reproduce`` runs N = 50, tau = 4 for 1000 steps with 3 seeds (``paper``) and writes per-step
metrics (CSV), a summary over steps 200-1000 (JSON), the order-parameter plot (PNG) and an animated
GIF of the flock. ``steer`` runs the informed-agent experiments of :mod:`swarm_gym.steering`: a
90-degree turn of the target direction and a waypoint path. ``sweep`` runs the turn experiment for
many steering settings and seeds on a process pool. ``smoke`` presets are small and fast.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import platform
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from swarm_gym import metrics as M
from swarm_gym.model import FSMSwarm
from swarm_gym.render import auto_view, render_frame
from swarm_gym.steering import Steering

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "reproduce": {
        "smoke": {"n_agents": 20, "horizon": 3, "steps": 60, "seeds": [0], "burn_in": 20,
                  "gif_every": 3},
        "paper": {"n_agents": 50, "horizon": 4, "steps": 1000, "seeds": [0, 1, 2], "burn_in": 200,
                  "gif_every": 5},
    },
    "steer": {
        "smoke": {"n_agents": 20, "horizon": 3, "seeds": [0], "fraction": 0.1, "turn_step": 20,
                  "after": 40, "gif_every": 3,
                  "variants": {"control": {"strength": 0.0},
                               "gated": {"strength": 10.0, "gate": 0.3},
                               "belief": {"strength": 0.0, "belief_turn": math.pi / 6,
                                          "lead_distance": 60.0},
                               "gated_30pct": {"strength": 10.0, "gate": 0.3, "fraction": 0.3}},
                  "turn_variants": ["control", "gated", "belief"],
                  "paths": {"short": {"variant": "gated_30pct", "waypoints": [[250, 50], [400, 150]],
                                      "reach": 40.0, "steps": 60}}},
        "paper": {"n_agents": 50, "horizon": 4, "seeds": [0, 1, 2], "fraction": 0.1,
                  "turn_step": 50, "after": 300, "gif_every": 5,
                  "variants": {"control": {"strength": 0.0},
                               "plain": {"strength": 0.5},
                               "gated": {"strength": 10.0, "gate": 0.3},
                               "belief": {"strength": 0.0, "belief_turn": math.pi / 6,
                                          "lead_distance": 60.0},
                               "gated_30pct": {"strength": 10.0, "gate": 0.3, "fraction": 0.3}},
                  "turn_variants": ["control", "plain", "gated", "belief"],
                  # sharp: legs of 30-45 steps, turns of 20-30 degrees (needs ~30 % informed);
                  # gentle: legs of ~100 steps, 30-degree turns (10 % informed, belief steering)
                  "paths": {"sharp": {"variant": "gated_30pct",
                                      "waypoints": [[400, 50], [700, 200], [900, 500], [1000, 900]],
                                      "reach": 60.0, "steps": 700},
                            "gentle": {"variant": "belief",
                                       "waypoints": [[1000, 50], [1900, 570], [2420, 1470],
                                                     [2420, 2500]],
                                       "reach": 100.0, "steps": 700}}},
    },
}  # fmt: skip

MOVE_NAMES = ("right", "left", "slow", "keep", "fast")


def _versions() -> dict[str, str]:
    import numba

    return {"python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "machine": platform.machine()}  # fmt: skip


def _frame_metrics(sw: FSMSwarm) -> dict[str, float]:
    m = sw.metrics()
    m["t"] = sw.t
    return m


def _progress(total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step")


def _save_gif(path: Path, frames: list[np.ndarray], fps: int = 15) -> None:
    import imageio.v3 as iio

    iio.imwrite(path, np.stack(frames), extension=".gif", duration=1000 / fps, loop=0)


def _correlation(sw: FSMSwarm) -> tuple[float, float]:
    """(xi, L): zero crossing of C(r) and the largest pair distance, for the current frame."""
    pos, vel = sw._pos, sw.velocities
    r, c, _ = M.velocity_correlation(pos, vel, n_bins=20)
    return M.zero_crossing(r, c), float(M.pair_distances(pos).max())


def _summary(rows: list[dict[str, float]], burn_in: int) -> dict[str, Any]:
    keys = [k for k in rows[0] if k != "t"]
    sel = [r for r in rows if r["t"] >= burn_in]
    return {k: {"mean": float(np.mean([r[k] for r in sel])),
                "sd": float(np.std([r[k] for r in sel]))} for k in keys}  # fmt: skip


def reproduce(preset: str, out: Path, gif: bool = True) -> dict[str, Any]:
    """Run the reference model and write metrics, a plot and a GIF; return the summary."""
    p = PRESETS["reproduce"][preset]
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"preset": preset, "params": p, "versions": _versions(), "seeds": {}}
    phi_curves = {}
    for seed in p["seeds"]:
        sw = FSMSwarm(p["n_agents"], p["horizon"], seed=seed)
        rows = [_frame_metrics(sw)]
        moves = np.zeros(5, dtype=np.int64)
        xi_over_l, frames = [], []
        view = None
        t0 = time.perf_counter()
        bar = _progress(p["steps"], f"reproduce seed {seed}")
        for _ in range(p["steps"]):
            acts = sw.step()
            if sw.t > p["burn_in"]:
                moves += np.bincount(acts, minlength=5)
            rows.append(_frame_metrics(sw))
            if sw.t >= p["burn_in"] and sw.t % 10 == 0:
                xi, length = _correlation(sw)
                if np.isfinite(xi):
                    xi_over_l.append(xi / length)
            if gif and seed == p["seeds"][0] and sw.t % p["gif_every"] == 0:
                c, h = auto_view(sw._pos, min_half=60.0)
                view = (c, h if view is None else max(h, 0.97 * view[1]))
                caption = f"t={sw.t}  phi={rows[-1]['order_parameter']:.3f}"
                frames.append(render_frame(sw._pos, sw._th, size=320, view=view, text=caption))
            bar.update(1)
        bar.close()
        wall = time.perf_counter() - t0
        with open(out / f"reproduce_seed{seed}.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        summ = _summary(rows, p["burn_in"])
        summ["order_parameter_t0"] = rows[0]["order_parameter"]
        summ["move_mix"] = dict(zip(MOVE_NAMES, (moves / max(moves.sum(), 1)).round(4).tolist(),
                                    strict=True))  # fmt: skip
        summ["xi_over_L"] = {"mean": float(np.mean(xi_over_l)) if xi_over_l else float("nan"),
                             "sd": float(np.std(xi_over_l)) if xi_over_l else float("nan"),
                             "n_frames": len(xi_over_l)}  # fmt: skip
        summ["seconds_per_step"] = wall / p["steps"]
        result["seeds"][str(seed)] = summ
        phi_curves[seed] = [r["order_parameter"] for r in rows]
        if frames:
            _save_gif(out / "flock.gif", frames)
    phis = [result["seeds"][str(s)]["order_parameter"]["mean"] for s in p["seeds"]]
    result["order_parameter_mean_over_seeds"] = float(np.mean(phis))
    result["order_parameter_min_over_seeds"] = float(np.min(phis))
    _plot_phi(out / "order_parameter.png", phi_curves, p["burn_in"])
    (out / "reproduce_summary.json").write_text(json.dumps(result, indent=2))
    return result


def _plot_phi(path: Path, curves: dict[int, list[float]], burn_in: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=120)
    for seed, phi in curves.items():
        ax.plot(phi, lw=0.8, label=f"seed {seed} (mean t>={burn_in}: "
                f"{np.mean(phi[burn_in:]):.3f})")  # fmt: skip
    ax.axvline(burn_in, color="grey", ls=":", lw=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("order parameter $\\phi$")
    ax.set_ylim(0.85, 1.0)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("FSM swarm, N=50, $\\tau$=4 (reference variant)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


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


def steer_turn(p: dict[str, Any], seed: int, name: str) -> dict[str, Any]:
    """Target direction 0 until ``turn_step``, then 90 degrees; 10% informed agents."""
    kw = {"fraction": p["fraction"], **p["variants"][name]}
    st = Steering(target_angle=0.0, turn_angle=math.pi / 2, turn_step=p["turn_step"], seed=seed,
                  **kw)  # fmt: skip
    sw = FSMSwarm(p["n_agents"], p["horizon"], seed=seed, steering=st)
    total = p["turn_step"] + p["after"]
    heading, phi, heading_lc, phi_lc = [], [], [], []
    bar = _progress(total, f"turn {name} seed {seed}")
    for _ in range(total):
        sw.step()
        heading.append(_mean_heading(sw._th))
        phi.append(M.order_parameter(sw._th))
        lc = M.largest_cluster(sw._pos)
        heading_lc.append(_mean_heading(sw._th[lc]))
        phi_lc.append(M.order_parameter(sw._th[lc]))
        bar.update(1)
    bar.close()
    target = math.pi / 2
    after = range(p["turn_step"], total)

    def first_within(h):
        within = [t for t in after if _angle_diff(h[t], target) < math.radians(20)]
        return (within[0] + 1 - p["turn_step"]) if within else None

    phi_after = np.array([phi[t] for t in after])
    largest = M.largest_cluster(sw._pos)
    steps = first_within(heading)
    return {
        "success": steps is not None and steps <= p["after"] and float(phi_after.min()) >= 0.9,
        "seed": seed, "variant": name, "steering": kw,
        "steps_to_within_20deg": steps,
        "steps_to_within_20deg_largest_cluster": first_within(heading_lc),
        "final_heading_error_deg": math.degrees(_angle_diff(heading[-1], target)),
        "order_parameter_min_after_turn": float(phi_after.min()),
        "order_parameter_mean_after_turn": float(phi_after.mean()),
        "order_parameter_largest_cluster_min_after_turn": float(min(phi_lc[p["turn_step"]:])),
        "largest_cluster_fraction_end": len(largest) / p["n_agents"],
        "informed_in_largest_cluster_end": int(np.isin(st.informed, largest).sum()),
        "n_informed": len(st.informed),
        "heading": heading, "phi": phi,
    }  # fmt: skip


def steer_path(p: dict[str, Any], seed: int, path_name: str, frames: list | None):
    """Informed agents aim at the active waypoint; the flock centre should follow the path."""
    spec = p["paths"][path_name]
    wp = np.asarray(spec["waypoints"], dtype=np.float64)
    kw = {"fraction": p["fraction"], **p["variants"][spec["variant"]]}
    st = Steering(waypoints=wp, reach=spec["reach"], seed=seed, **kw)
    sw = FSMSwarm(p["n_agents"], p["horizon"], seed=seed, steering=st)
    path = np.vstack([sw._pos.mean(axis=0), wp])
    centres, phi = [sw._pos.mean(axis=0)], []
    bar = _progress(spec["steps"], f"path {path_name} seed {seed}")
    for _ in range(spec["steps"]):
        sw.step()
        centres.append(sw._pos.mean(axis=0))
        phi.append(M.order_parameter(sw._th))
        if frames is not None and sw.t % p["gif_every"] == 0:
            lo, hi = np.minimum(wp.min(0), 0.0), wp.max(0)
            view = ((lo + hi) / 2.0, 0.55 * float((hi - lo).max()) + 20.0)
            frames.append(render_frame(sw._pos, sw._th, size=320, view=view, informed=st.informed,
                                       waypoints=wp, active_waypoint=st.waypoint_index,
                                       text=f"t={sw.t}"))  # fmt: skip
        bar.update(1)
        if st.done:
            break
    bar.close()
    centres_arr = np.array(centres)
    dev = [_dist_to_path(c, path) for c in centres_arr]
    largest = M.largest_cluster(sw._pos)
    return {
        "seed": seed, "path": path_name, "variant": spec["variant"], "steering": kw,
        "waypoints_reached": len(st.reached_at), "n_waypoints": len(wp),
        "reached_at_step": list(st.reached_at),
        "centre_path_deviation_mean": float(np.mean(dev)),
        "centre_path_deviation_max": float(np.max(dev)),
        "order_parameter_mean": float(np.mean(phi)),
        "largest_cluster_fraction_end": len(largest) / p["n_agents"],
        "centres": centres_arr.tolist(),
    }  # fmt: skip


def steer(preset: str, out: Path, gif: bool = True) -> dict[str, Any]:
    """Run the turn and path experiments; write JSON, plots and a GIF; return the summary."""
    p = PRESETS["steer"][preset]
    out.mkdir(parents=True, exist_ok=True)
    turns = [steer_turn(p, s, name) for name in p["turn_variants"] for s in p["seeds"]]
    paths = []
    for path_name in p["paths"]:
        frames: list[np.ndarray] = []  # a GIF of each path's first seed
        paths += [steer_path(p, s, path_name, frames if (gif and i == 0) else None)
                  for i, s in enumerate(p["seeds"])]  # fmt: skip
        if frames:
            _save_gif(out / f"steer_path_{path_name}.gif", frames)
    _plot_steer(out / "steering.png", p, turns, paths)
    strip = ("heading", "phi", "centres")
    result = {
        "preset": preset, "params": p, "versions": _versions(),
        "turn": [{k: v for k, v in r.items() if k not in strip} for r in turns],
        "path": [{k: v for k, v in r.items() if k not in strip} for r in paths],
    }  # fmt: skip
    (out / "steer_summary.json").write_text(json.dumps(result, indent=2))
    return result


def _plot_steer(path: Path, p, turns, paths) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=110)
    colours = {name: f"C{k}" for k, name in enumerate(p["turn_variants"])}
    for r in turns:  # every seed, one colour per variant, labelled once
        label = r["variant"] if r["seed"] == p["seeds"][0] else None
        kw = {"color": colours[r["variant"]], "label": label, "alpha": 0.8}
        axes[0].plot(np.degrees(np.unwrap(r["heading"])), lw=0.9, **kw)
        axes[1].plot(r["phi"], lw=0.7, **kw)
    tgt = [0 if t < p["turn_step"] else 90 for t in range(p["turn_step"] + p["after"])]
    axes[0].plot(tgt, "k--", lw=0.8, label="target")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("mean heading (deg)")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("order parameter")
    axes[1].set_ylim(0.5, 1.0)
    axes[1].legend(fontsize=7)
    for k, (path_name, spec) in enumerate(p["paths"].items()):
        wp = np.asarray(spec["waypoints"])
        axes[2].plot(wp[:, 0], wp[:, 1], "o--", color="k", ms=4, lw=0.7)
        for r in paths:
            if r["path"] == path_name:
                c = np.asarray(r["centres"])
                label = f"{path_name} ({spec['variant']})" if r["seed"] == p["seeds"][0] else None
                axes[2].plot(c[:, 0], c[:, 1], lw=0.9, color=f"C{k}", alpha=0.8, label=label)
    axes[2].set_aspect("equal")
    axes[2].set_title("flock centre (lines, every seed) vs waypoints (dots)", fontsize=9)
    axes[2].legend(fontsize=7)
    seeds = ", ".join(map(str, p["seeds"]))
    axes[0].set_title(f"seeds {seeds}: target turns 90° at step {p['turn_step']}", fontsize=9)
    axes[1].axhline(0.9, color="k", ls=":", lw=0.8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _sweep_job(job: tuple[dict[str, Any], str, int]) -> dict[str, Any]:
    """One turn experiment of a sweep, in a worker process with one numba thread."""
    import os

    import numba

    os.environ["TQDM_DISABLE"] = "1"  # one bar, the parent's
    numba.set_num_threads(1)
    p, name, seed = job
    r = steer_turn(p, seed, name)
    return {k: v for k, v in r.items() if k not in ("heading", "phi")}


def sweep(variants: dict[str, dict[str, Any]], seeds: list[int], out: Path, jobs: int = 1,
          preset: str = "paper") -> dict[str, Any]:  # fmt: skip
    """Run the turn experiment for every (variant, seed) on ``jobs`` processes.

    ``variants`` maps a name to ``Steering`` settings (``fraction`` may be among them); the rest of
    the set-up is the ``steer`` preset's. Results go to ``out`` (JSON, rewritten after every run).
    """
    import multiprocessing as mp

    from tqdm.auto import tqdm

    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    for name, kw in variants.items():
        try:
            Steering(**kw)
        except TypeError as err:
            raise ValueError(f"variant {name!r}: {err}") from None
    p = {**PRESETS["steer"][preset], "variants": variants}
    todo = [(p, name, seed) for name in variants for seed in seeds]
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
                "params": {k: v for k, v in p.items() if k != "variants"}, "variants": variants,
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


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m swarm_gym.experiments", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("command", choices=["reproduce", "steer", "sweep"])
    ap.add_argument("--preset", choices=["smoke", "paper"], default="smoke")
    ap.add_argument("--out", type=Path, default=Path("runs/swarm"))
    ap.add_argument("--no-gif", action="store_true", help="skip the animated GIF")
    ap.add_argument("--variants", type=Path, help="sweep: JSON {name: Steering settings}")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="sweep: seeds")
    ap.add_argument("--jobs", type=int, default=1, help="sweep: worker processes")
    args = ap.parse_args(argv)
    if args.command == "sweep":
        if args.variants is None:
            ap.error("sweep needs --variants FILE.json")
        try:
            variants = json.loads(args.variants.read_text())
        except (OSError, json.JSONDecodeError) as err:
            ap.error(f"--variants: cannot read {args.variants}: {err}")
        if not isinstance(variants, dict) or not all(
            isinstance(v, dict) for v in variants.values()
        ):
            ap.error("--variants: expected a JSON object {name: {Steering settings}}")
        if args.jobs < 1:
            ap.error(f"--jobs must be >= 1, got {args.jobs}")
        res = sweep(variants, args.seeds, args.out, args.jobs, args.preset)
        print(json.dumps(res["success"], indent=1))
        return 0
    fn = reproduce if args.command == "reproduce" else steer
    res = fn(args.preset, args.out, gif=not args.no_gif)
    keep = {k: v for k, v in res.items() if k not in ("params", "versions")}
    print(json.dumps(keep, indent=1)[:4000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
