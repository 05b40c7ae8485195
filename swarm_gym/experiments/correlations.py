"""Scale-free correlations: the correlation length xi of velocity fluctuations against flock size.

Cavagna et al. (PNAS 2010) found that in starling flocks the correlation length xi (the first zero
of C(r), the correlation of velocity fluctuations u_i = v_i - <v> at separation r) grows
linearly with the flock's linear size L, so that C(r / xi) collapses onto one curve across flocks:
"scale-free" correlations. Charlesworth's talk sets the FSM flock's C(r) beside that data. This
experiment measures xi against L for flocks of several N:

* ``record``: one run per (policy, N, seed) from the aligned start in a box of the N = 50 density;
  every ``every`` steps after ``burn_in`` it stores all positions and velocities. One file per
  run (``{policy}_n{N}_s{seed}.npz``), written atomically when the run ends; ``resume`` skips the
  runs already written, so an interrupted experiment loses only the run in progress.
* ``analyse``: per stored frame, the largest cluster (link 30 radii); its L (largest pair
  distance), C(r) in ``n_bins`` bins over [0, L] and xi; per (policy, N) the means; the fitted
  slope of xi against L (least squares with intercept, and through the origin); and the
  profiles C against r / xi, averaged per N on a common grid, for the collapse plot.

The FSM tree search costs about N^2 per step, so the FSM runs stop at a few hundred agents and
the learned heuristic (``policy="heuristic"``) carries on beyond.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from swarm_gym import metrics as M
from swarm_gym.model import FSMSwarm

POLICIES = ("fsm", "heuristic")
MODELS = ("discrete", "continuous")
STARLING_SLOPE = 0.35  # Cavagna et al. 2010, xi about 0.35 L; quoted from memory, unverified
COLLAPSE_GRID = np.linspace(0.05, 3.0, 60)  # r / xi


@dataclass(frozen=True)
class CorrelationPreset:
    """The ``correlations`` experiment.

    Attributes:
        fsm_sizes: N of the FSM runs.
        heuristic_sizes: N of the runs flown by the shipped heuristic.
        horizon: tau.
        steps: steps per run.
        burn_in: first step stored.
        every: store every ``every``-th step from ``burn_in`` on.
        seeds: one run per seed and size.
        n_bins: bins of C(r) over [0, L].
        link: cluster link distance (radii) of the largest-cluster selection.
        model: the FSM model of every run (``"continuous"``: the FSM runs maximise W and the
            heuristic runs fly the heuristic shipped for that model).
    """

    fsm_sizes: tuple[int, ...]
    heuristic_sizes: tuple[int, ...]
    horizon: int
    steps: int
    burn_in: int
    every: int
    seeds: tuple[int, ...]
    n_bins: int = 30
    link: float = 30.0
    model: str = "discrete"

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {list(MODELS)}, got {self.model!r}")
        for name in ("horizon", "steps", "every", "n_bins"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.burn_in <= self.steps:
            raise ValueError(f"burn_in must lie in [0, steps={self.steps}], got {self.burn_in}")
        sizes = self.fsm_sizes + self.heuristic_sizes
        if not sizes or min(sizes) < 3:
            raise ValueError(f"sizes must be >= 3 agents (and at least one), got {sizes}")
        if not self.seeds or min(self.seeds) < 0:
            raise ValueError(f"seeds must be >= 0 (and at least one), got {self.seeds}")

    def runs(self) -> list[tuple[str, int, int]]:
        """Every (policy, N, seed) of the experiment, FSM first, small N first."""
        return [(policy, n, seed)
                for policy, sizes in (("fsm", self.fsm_sizes), ("heuristic", self.heuristic_sizes))
                for n in sizes for seed in self.seeds]  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (lists for tuples), in field order."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self)}  # fmt: skip


CORRELATION_PRESETS: dict[str, CorrelationPreset] = {
    "smoke": CorrelationPreset(fsm_sizes=(12, 20), heuristic_sizes=(40,), horizon=2, steps=30,
                               burn_in=10, every=5, seeds=(0,), n_bins=12),
    "paper": CorrelationPreset(fsm_sizes=(25, 50, 100, 200), heuristic_sizes=(500, 1000),
                               horizon=4, steps=1000, burn_in=200, every=20, seeds=(0, 1)),
    # the talk's large-flock model; its heuristic overlaps the FSM at N = 100 and goes to 1000
    "continuous": CorrelationPreset(fsm_sizes=(25, 50, 100), heuristic_sizes=(100, 200, 500, 1000),
                                    horizon=4, steps=1000, burn_in=200, every=20, seeds=(0, 1),
                                    model="continuous"),
}  # fmt: skip


def run_file(out: Path, policy: str, n_agents: int, seed: int) -> Path:
    """Where the frames of one run are stored."""
    return out / f"{policy}_n{n_agents}_s{seed}.npz"


def start_box(n_agents: int) -> float:
    """Side of the square of start positions at the density of the N = 50, 100 x 100 start."""
    return 100.0 * math.sqrt(n_agents / 50.0)


def record_run(preset: CorrelationPreset, policy: str, n_agents: int, seed: int, progress: Any = None) -> dict[str, np.ndarray]:  # fmt: skip
    """Simulate one run and return its stored frames: ``t`` (F,), ``positions`` and
    ``velocities`` (F, N, 2), and ``seconds_per_step``."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {list(POLICIES)}, got {policy!r}")
    swarm = FSMSwarm(n_agents, preset.horizon, seed=seed, policy=policy, box=start_box(n_agents),
                     allow_large=True, model=preset.model)  # fmt: skip
    ts, positions, velocities = [], [], []
    start = time.perf_counter()
    for _ in range(preset.steps):
        swarm.step()
        if swarm.t >= preset.burn_in and (swarm.t - preset.burn_in) % preset.every == 0:
            ts.append(swarm.t)
            positions.append(np.array(swarm.view.positions))
            velocities.append(swarm.velocities)
        if progress is not None:
            progress.update(1)
    return {
        "t": np.array(ts, dtype=np.int64),
        # float32: the files stay small enough to keep beside the results (C(r) needs no more)
        "positions": np.array(positions, dtype=np.float32).reshape(len(ts), n_agents, 2),
        "velocities": np.array(velocities, dtype=np.float32).reshape(len(ts), n_agents, 2),
        "seconds_per_step": np.array((time.perf_counter() - start) / preset.steps),
    }


def _save_npz(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        payload: dict[str, Any] = {"meta": np.array(json.dumps(meta)), **arrays}
        np.savez_compressed(handle, **payload)
    os.replace(tmp, path)


def load_run(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The frames and metadata of one stored run; ValueError naming the file if it is damaged."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if k != "meta"}
            meta = json.loads(str(data["meta"]))
        frames = len(arrays["t"])
        n = int(meta["n_agents"])
        for key in ("positions", "velocities"):
            if arrays[key].shape != (frames, n, 2):
                raise ValueError(f"{key} has shape {arrays[key].shape}, expected ({frames}, {n}, 2)")  # fmt: skip
    except Exception as err:  # a truncated or foreign file can raise almost anything
        raise ValueError(f"{path}: not a readable correlations run ({type(err).__name__}: {err})") from None  # fmt: skip
    return arrays, meta


def record(preset: CorrelationPreset, out: Path, resume: bool = False, progress: bool = True) -> list[Path]:  # fmt: skip
    """Run every (policy, N, seed) of ``preset`` not yet stored in ``out``; returns the files.

    Without ``resume``, a folder that already holds runs of this experiment is refused (nothing
    finished is overwritten); with it, stored runs are kept and must be of the same preset.
    """
    out.mkdir(parents=True, exist_ok=True)
    config_path = out / "config.json"
    config = preset.to_dict()
    if config_path.exists():
        saved = json.loads(config_path.read_text())
        saved.setdefault("model", "discrete")  # folders recorded before the option existed
        if not resume:
            raise ValueError(f"--out {out} holds a correlations experiment already; pass --resume or another --out")  # fmt: skip
        if saved != config:
            changed = sorted(k for k in config if saved.get(k) != config[k])
            raise ValueError(f"--resume: {out} was recorded with other settings ({', '.join(changed)})")  # fmt: skip
    else:
        config_path.write_text(json.dumps(config, indent=2) + "\n")
    todo = [run for run in preset.runs() if not run_file(out, *run).exists()]
    bar = None
    if progress:
        bar = tqdm(total=len(todo) * preset.steps, unit="step", desc="correlations")
    for policy, n, seed in todo:
        if bar is not None:
            bar.set_postfix_str(f"{policy} N={n} seed={seed}")
        arrays = record_run(preset, policy, n, seed, progress=bar)
        meta = {"policy": policy, "n_agents": n, "seed": seed, "preset": config}
        _save_npz(run_file(out, policy, n, seed), arrays, meta)
    if bar is not None:
        bar.close()
    return [run_file(out, *run) for run in preset.runs()]


def frame_correlation(positions: np.ndarray, velocities: np.ndarray, n_bins: int, link: float) -> dict[str, Any]:  # fmt: skip
    """C(r) of the largest cluster of one frame: its size, L, xi, and the binned profile."""
    members = M.largest_cluster(positions, link)
    p, v = positions[members], velocities[members]
    if len(members) < 3:
        return {"n": len(members), "L": float("nan"), "xi": float("nan"), "r": None, "c": None}
    length = float(M.pair_distances(p).max())
    r, c, _ = M.velocity_correlation(p, v, n_bins=n_bins, r_max=length)
    return {"n": len(members), "L": length, "xi": M.zero_crossing(r, c), "r": r, "c": c}


def fit_slope(lengths: np.ndarray, xis: np.ndarray) -> dict[str, float]:
    """Least-squares xi = a L + b, and the slope through the origin, with the r^2 of the first."""
    lengths, xis = np.asarray(lengths, float), np.asarray(xis, float)
    ok = np.isfinite(lengths) & np.isfinite(xis)
    lengths, xis = lengths[ok], xis[ok]
    if len(lengths) < 2 or np.ptp(lengths) == 0:
        return {"slope": float("nan"), "intercept": float("nan"), "r2": float("nan"),
                "slope_through_origin": float("nan"), "n_points": len(lengths)}  # fmt: skip
    slope, intercept = np.polyfit(lengths, xis, 1)
    residual = xis - (slope * lengths + intercept)
    total = float(((xis - xis.mean()) ** 2).sum())
    return {
        "slope": float(slope),
        "intercept": float(intercept),
        "r2": 1.0 - float((residual**2).sum()) / total if total > 0 else float("nan"),
        "slope_through_origin": float((lengths * xis).sum() / (lengths**2).sum()),
        "n_points": len(lengths),
    }


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return (float(np.mean(values)), float(np.std(values))) if values else (math.nan, math.nan)


def _column_means(profiles: np.ndarray) -> list[float]:
    """Mean of each column over its finite entries (NaN where a column has none)."""
    finite = np.isfinite(profiles)
    counts = finite.sum(axis=0)
    sums = np.where(finite, profiles, 0.0).sum(axis=0)
    return [float(s / c) if c else math.nan for s, c in zip(sums, counts, strict=True)]


def _size_summary(policy: str, n: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    with_xi = [r for r in rows if np.isfinite(r["xi"])]
    length, length_sd = _mean_sd([r["L"] for r in with_xi])
    xi, xi_sd = _mean_sd([r["xi"] for r in with_xi])
    return {
        "policy": policy, "n_agents": n, "frames": len(rows), "frames_with_xi": len(with_xi),
        "cluster_fraction": float(np.mean([r["cluster"] / n for r in rows])),
        "order_parameter": float(np.mean([r["order_parameter"] for r in rows])),
        "L": length, "L_sd": length_sd, "xi": xi, "xi_sd": xi_sd,
        "xi_over_L": _mean_sd([r["xi"] / r["L"] for r in with_xi])[0],
    }  # fmt: skip


def analyse(out: Path) -> dict[str, Any]:
    """The per-frame and per-size numbers of every stored run in ``out``, the fitted slopes, and
    the averaged C(r / xi) profiles; writes ``correlations.csv`` and ``summary.json``."""
    files = sorted(out.glob("*_n*_s*.npz"))
    if not files:
        raise ValueError(f"--out {out}: no stored runs (run the record step first)")
    rows: list[dict[str, Any]] = []
    collapse: dict[tuple[str, int], list[np.ndarray]] = {}
    models: set[str] = set()
    for path in files:
        arrays, meta = load_run(path)
        n_bins = int(meta["preset"]["n_bins"])
        link = float(meta["preset"]["link"])
        policy, n = str(meta["policy"]), int(meta["n_agents"])
        models.add(str(meta["preset"].get("model", "discrete")))  # older files: discrete
        for k, t in enumerate(arrays["t"]):
            pos = arrays["positions"][k].astype(np.float64)
            vel = arrays["velocities"][k].astype(np.float64)
            frame = frame_correlation(pos, vel, n_bins, link)
            phi = M.order_parameter(np.arctan2(vel[:, 1], vel[:, 0]))
            rows.append({"policy": policy, "n_agents": n, "seed": int(meta["seed"]), "t": int(t),
                         "cluster": frame["n"], "L": frame["L"], "xi": frame["xi"],
                         "order_parameter": phi})  # fmt: skip
            if np.isfinite(frame["xi"]) and frame["xi"] > 0:
                ok = np.isfinite(frame["c"])
                profile = np.interp(COLLAPSE_GRID, frame["r"][ok] / frame["xi"], frame["c"][ok],
                                    left=np.nan, right=np.nan)  # fmt: skip
                collapse.setdefault((policy, n), []).append(profile)
    keys = sorted({(r["policy"], r["n_agents"]) for r in rows}, key=lambda k: (POLICIES.index(k[0]), k[1]))  # fmt: skip
    sizes = [_size_summary(policy, n, [r for r in rows if (r["policy"], r["n_agents"]) == (policy, n)])
             for policy, n in keys]  # fmt: skip
    fits = {}
    for policy in POLICIES:
        sel = [r for r in rows if r["policy"] == policy]
        if sel:
            fits[policy] = fit_slope(np.array([r["L"] for r in sel]), np.array([r["xi"] for r in sel]))  # fmt: skip
    fits["all"] = fit_slope(np.array([r["L"] for r in rows]), np.array([r["xi"] for r in rows]))
    profiles = {f"{policy}_n{n}": _column_means(np.array(p)) for (policy, n), p in collapse.items()}  # fmt: skip
    if len(models) > 1:
        raise ValueError(f"--out {out} holds runs of several FSM models ({sorted(models)})")
    summary = {"model": models.pop(), "sizes": sizes, "fits": fits, "starling_slope": STARLING_SLOPE,
               "collapse_grid": COLLAPSE_GRID.tolist(), "collapse_profiles": profiles}  # fmt: skip
    with open(out / "correlations.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def plot(summary: dict[str, Any], rows_csv: Path, path: Path) -> None:
    """Two panels: xi against L (frames, size means, fitted line, the starling slope), and the
    averaged C against r / xi per size (the collapse)."""
    import matplotlib  # an optional dependency (the plots extra)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(rows_csv) as handle:
        rows = [r for r in csv.DictReader(handle) if r["xi"] not in ("nan", "")]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.5))
    markers = {"fsm": "o", "heuristic": "s"}
    colours = plt.get_cmap("viridis")
    all_sizes = sorted({int(s["n_agents"]) for s in summary["sizes"]})
    colour = {n: colours(k / max(len(all_sizes) - 1, 1)) for k, n in enumerate(all_sizes)}
    for size in summary["sizes"]:
        policy, n = size["policy"], int(size["n_agents"])
        pts = [r for r in rows if r["policy"] == policy and int(r["n_agents"]) == n]
        ax.scatter([float(r["L"]) for r in pts], [float(r["xi"]) for r in pts], s=6, alpha=0.25,
                   color=colour[n], marker=markers[policy])  # fmt: skip
        if np.isfinite(size["xi"]):
            ax.errorbar(size["L"], size["xi"], xerr=size["L_sd"], yerr=size["xi_sd"],
                        marker=markers[policy], color=colour[n], ms=7, mec="k", capsize=2,
                        label=f"{policy} N={n}")  # fmt: skip
    top = max([float(r["L"]) for r in rows] + [1.0])
    line = np.linspace(0, top, 50)
    # one fitted line per policy: the heuristic's largest clusters are small fragments
    for policy, style in (("fsm", "k-"), ("heuristic", "k:")):
        fit = summary["fits"].get(policy)
        if fit is not None and np.isfinite(fit["slope"]):
            ax.plot(line, fit["slope"] * line + fit["intercept"], style, lw=1,
                    label=f"{policy} fit: xi = {fit['slope']:.3f} L {fit['intercept']:+.1f} (r² {fit['r2']:.2f})")  # fmt: skip
    ax.plot(line, STARLING_SLOPE * line, "k--", lw=1,
            label=f"starlings, xi ≈ {STARLING_SLOPE} L (Cavagna 2010; unverified)")  # fmt: skip
    ax.set_xlabel("flock size L (largest pair distance, radii)")
    ax.set_ylabel("correlation length xi (first zero of C(r))")
    ax.legend(fontsize=7)
    grid = np.array(summary["collapse_grid"])
    for key, profile in summary["collapse_profiles"].items():
        policy, n = key.split("_n")
        bx.plot(grid, profile, color=colour[int(n)], ls="-" if policy == "fsm" else "--",
                label=f"{policy} N={n}")  # fmt: skip
    bx.axhline(0, color="grey", lw=0.5)
    bx.axvline(1, color="grey", lw=0.5, ls=":")
    bx.set_xlabel("r / xi")
    bx.set_ylabel("C(r), velocity fluctuations (normalised)")
    bx.legend(fontsize=7)
    fig.suptitle(f"{summary.get('model', 'discrete')} FSM model", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
