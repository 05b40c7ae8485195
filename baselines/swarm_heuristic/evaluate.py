"""How the FSM heuristic does: ``python -m baselines.swarm_heuristic.evaluate``.

    python -m baselines.swarm_heuristic.evaluate compare --out docs/results/swarm_heuristic
    python -m baselines.swarm_heuristic.evaluate speed --out docs/results/swarm_heuristic

``compare`` flies the heuristic swarm (N = 50, tau = 4, the reference variant, shipped weights
unless ``--weights``) for ``--steps`` steps from seeds 0, 1, 2 and compares its order parameter,
mean nearest-neighbour distance and opacity over steps 200.. with the FSM swarm of the same seeds
(the per-step CSVs of ``python -m swarm_gym.experiments reproduce``, ``--fsm-dir``), writing
``heuristic_seed{s}.csv``, ``compare_summary.json``, ``compare.png`` and ``side_by_side.gif``
(FSM left, heuristic right, seed 0, the first ``--gif-steps`` steps). ``speed`` times one step of
the heuristic swarm at N = 50, 200, 1000, 5000 (split into the visual states and the network) and
of the FSM at N = 50, writing ``speed.json`` (``--name``), and ``large.gif``, a heuristic flock of
``--large-n`` agents (``large`` makes only that GIF, ``large_continuous.gif`` for the
continuous model's heuristic, ``--model continuous``). ``closure`` is ``compare`` for FSM agents whose tree search models the
others with the heuristic (``FSMSwarm(..., others="heuristic")``, the authors' closure idea):
``closure_seed{s}.csv``, ``closure_summary.json``, ``closure.png``, ``closure_side_by_side.gif``.
``continuous`` is the same for the continuous model (``model="continuous"``: each agent maximises
the weight W of its branches instead of their number of distinct visual states), and
``continuous-heuristic`` flies the continuous model's heuristic (shipped unless ``--weights``)
against the continuous FSM runs of ``continuous`` (``--fsm-dir`` holding
``continuous_seed{s}.csv``): ``continuous_heuristic_seed{s}.csv``,
``continuous_compare_summary.json``, ``continuous_compare.png`` and
``continuous_heuristic_side_by_side.gif``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import numba
import numpy as np

from swarm_gym import FSMSwarm
from swarm_gym.config import HALFWIDTH_CODE
from swarm_gym.experiments.figures import save_gif
from swarm_gym.heuristic import HeuristicPolicy
from swarm_gym.kernels import visual_states
from swarm_gym.render import auto_view, render_frame

METRICS = ("order_parameter", "mean_nn_distance", "opacity", "largest_cluster_fraction")
BURN_IN = 200


def _fly(sw: Any, steps: int) -> list[dict[str, float]]:
    rows = []
    for t in range(steps + 1):
        m = sw.metrics()
        rows.append({k: float(m[k]) for k in METRICS} | {"t": t})
        if t < steps:
            sw.step()
    return rows


def _stats(rows: list[dict[str, float]]) -> dict[str, list[float]]:
    sel = [r for r in rows if r["t"] >= BURN_IN]
    if not sel:  # a run shorter than the burn-in has no statistics
        return {k: [float("nan"), float("nan")] for k in METRICS}
    return {k: [float(np.mean([r[k] for r in sel])), float(np.std([r[k] for r in sel]))]
            for k in METRICS}  # fmt: skip


class Mode(NamedTuple):
    """What ``compare`` flies and against which reference."""

    label: str  # prefix of the per-seed CSVs and the summary key
    summary: str  # NAME_summary.json and NAME.png
    gif: str  # NAME.gif
    model: str  # the FSM model of the compared swarm (and of its shipped heuristic)
    reference: str  # the reference runs' CSV prefix in --fsm-dir


MODES = {
    "heuristic": Mode("heuristic", "compare", "side_by_side", "discrete", "reproduce"),
    "closure": Mode("closure", "closure", "closure_side_by_side", "discrete", "reproduce"),
    "continuous": Mode(
        "continuous", "continuous", "continuous_side_by_side", "continuous", "reproduce"
    ),
    "continuous-heuristic": Mode(
        "continuous_heuristic",
        "continuous_compare",
        "continuous_heuristic_side_by_side",
        "continuous",
        "continuous",
    ),
}


def compare(
    out: Path, weights: Path | None, steps: int, fsm_dir: Path, gif_steps: int,
    mode: str = "heuristic",
) -> None:  # fmt: skip
    """A swarm of ``mode`` against its FSM reference (see the module docstring)."""
    import matplotlib  # an optional dependency (the plots extra)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label, summary_name, gif_name, model, reference = MODES[mode]
    flies_heuristic = mode in ("heuristic", "continuous-heuristic")
    pol = HeuristicPolicy.load(weights, model=model) if flies_heuristic else None

    def swarm(seed: int) -> Any:
        if mode == "closure":
            return FSMSwarm(50, 4, seed=seed, others="heuristic", weights=weights)
        if mode == "continuous":  # the talk's large-flock model: maximise W, not distinct states
            return FSMSwarm(50, 4, seed=seed, model="continuous")
        assert pol is not None
        return FSMSwarm(50, 4, seed=seed, model=model, policy=pol)

    # the reference swarm: the FSM of the compared heuristic's model, else the discrete FSM
    ref_model = "continuous" if reference == "continuous" else "discrete"
    ref_label = "continuous FSM" if ref_model == "continuous" else "FSM"

    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"steps": steps, "burn_in": BURN_IN, "weights": str(weights),
                               label: {}, "fsm": {}}  # fmt: skip
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for seed in (0, 1, 2):
        start = time.perf_counter()
        rows = _fly(swarm(seed), steps)
        summary[label][str(seed)] = _stats(rows) | {"seconds": time.perf_counter() - start}
        with open(out / f"{label}_seed{seed}.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*METRICS, "t"])
            writer.writeheader()
            writer.writerows(rows)
        with open(fsm_dir / f"{reference}_seed{seed}.csv") as handle:
            fsm = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(handle)]
        fsm = [r for r in fsm if r["t"] <= steps]
        summary["fsm"][str(seed)] = _stats(fsm)
        for ax, key in zip(axes, METRICS[:3], strict=True):
            ax.plot([r["t"] for r in fsm], [r[key] for r in fsm], color="C0", lw=0.8,
                    label=ref_label if seed == 0 else None)  # fmt: skip
            ax.plot([r["t"] for r in rows], [r[key] for r in rows], color="C3", lw=0.8,
                    label=label if seed == 0 else None)  # fmt: skip
            ax.set_title(key.replace("_", " "))
            ax.set_xlabel("step")
    axes[1].set_yscale("log")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out / f"{summary_name}.png", dpi=110)
    plt.close(fig)
    with open(out / f"{summary_name}_summary.json", "w") as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
    fsm_sw, heur_sw = FSMSwarm(50, 4, seed=0, model=ref_model), swarm(0)
    frames = []
    for t in range(gif_steps + 1):
        if t % 3 == 0:
            pair = []
            for name, sw in ((ref_label, fsm_sw), (label, heur_sw)):
                view = auto_view(sw.positions)
                pair.append(render_frame(sw.positions, sw.headings, size=320, view=view,
                                         text=f"{name} t={t}"))  # fmt: skip
            frames.append(np.concatenate(pair, axis=1))
        if t < gif_steps:
            fsm_sw.step()
            heur_sw.step()
    if gif_steps > 0:
        save_gif(out / f"{gif_name}.gif", frames)
    print(json.dumps({s: summary[s] for s in (label, "fsm")}, indent=1))


def _time_steps(sw: Any, steps: int) -> dict[str, float]:
    cfg = sw.config
    total, vis = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        visual_states(sw.view.positions.copy(), sw.view.headings.copy(), float(cfg.radius),
                      int(HALFWIDTH_CODE[cfg.halfwidth]), int(cfg.n_sensors),
                      float(cfg.sensor_threshold))  # fmt: skip
        t1 = time.perf_counter()
        sw.step()
        t2 = time.perf_counter()
        vis.append(t1 - t0)
        total.append(t2 - t1)
    return {"seconds_per_step": float(np.median(total)), "visual_seconds": float(np.median(vis))}


def speed(out: Path, weights: Path | None, sizes: list[int], large_n: int,
          large_steps: int, name: str = "speed") -> None:  # fmt: skip
    """Seconds per step of the heuristic swarm and of the FSM (see the module docstring)."""
    pol = HeuristicPolicy.load(weights)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"threads": numba.get_num_threads(), "heuristic": {}}
    for n in sizes:
        box = 100.0 * float(np.sqrt(n / 50))  # the density of the N = 50 start
        sw = FSMSwarm(n, 4, seed=0, policy=pol, box=box)
        for _ in range(3):
            sw.step()
        reps = 20 if n <= 1000 else 5
        r = _time_steps(sw, reps)
        r["network_seconds"] = r["seconds_per_step"] - r["visual_seconds"]
        r["steps_per_second"] = 1.0 / r["seconds_per_step"]
        result["heuristic"][str(n)] = r
        print(n, r)
    sw = FSMSwarm(50, 4, seed=0)
    for _ in range(3):
        sw.step()
    times = []
    for _ in range(8):
        t0 = time.perf_counter()
        sw.step()
        times.append(time.perf_counter() - t0)
    result["fsm_50"] = {"seconds_per_step": float(np.median(times))}
    print("fsm 50", result["fsm_50"])
    with open(out / f"{name}.json", "w") as handle:
        json.dump(result, handle, indent=2, sort_keys=True)
    if large_steps > 0:
        large_flock(out / "large.gif", pol, large_n, large_steps)


def large_flock(path: Path, pol: Any, n: int, steps: int) -> None:
    """A GIF of ``n`` heuristic agents from the aligned start at the N = 50 density, every 4th
    of ``steps`` steps."""
    box = 100.0 * float(np.sqrt(n / 50))
    sw = FSMSwarm(n, 4, seed=0, policy=pol, box=box)
    model = pol.meta.get("model", "discrete")
    frames = []
    for t in range(steps + 1):
        if t % 4 == 0:
            frames.append(render_frame(sw.positions, sw.headings, size=480,
                                       view=auto_view(sw.positions),
                                       text=f"{model} heuristic N={n} t={t}"))  # fmt: skip
        if t < steps:
            sw.step()
    save_gif(path, frames)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m baselines.swarm_heuristic.evaluate")
    parser.add_argument("command", choices=("compare", "closure", "continuous",
                                            "continuous-heuristic", "speed", "large"))  # fmt: skip
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--weights", type=Path, default=None, help="default: shipped weights")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--gif-steps", type=int, default=300)
    parser.add_argument("--fsm-dir", type=Path, default=Path("docs/results/swarm"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 1000, 5000])
    parser.add_argument("--large-n", type=int, default=1000)
    parser.add_argument("--large-steps", type=int, default=300)
    parser.add_argument("--name", default="speed", help="speed: NAME.json")
    parser.add_argument("--model", choices=("discrete", "continuous"), default="discrete",
                        help="large: whose shipped heuristic flies (without --weights)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.steps <= BURN_IN and args.command not in ("large", "speed"):
        print(f"note: --steps {args.steps} does not pass the burn-in of {BURN_IN} steps, so the "
              "statistics (means and stds over the steps after it) are NaN; use --steps > "
              f"{BURN_IN} for numbers", file=sys.stderr)  # fmt: skip
    if args.command == "large":
        pol = HeuristicPolicy.load(args.weights, model=args.model)
        suffix = "" if pol.meta.get("model", "discrete") == "discrete" else "_continuous"
        args.out.mkdir(parents=True, exist_ok=True)
        large_flock(args.out / f"large{suffix}.gif", pol, args.large_n, args.large_steps)
    elif args.command != "speed":
        mode = "heuristic" if args.command == "compare" else args.command
        compare(args.out, args.weights, args.steps, args.fsm_dir, args.gif_steps, mode)
    else:
        speed(args.out, args.weights, args.sizes, args.large_n, args.large_steps, args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
