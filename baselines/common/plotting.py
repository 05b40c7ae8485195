"""Success rate against env steps, from one or more run folders.

``python -m baselines.plot RUN_DIR [RUN_DIR ...] --out fig.png [--metric success_final]``

Run folders are grouped by (env, algo) from their ``config.json``; each group is drawn as the mean
over its runs (seeds) with a min-max (default) or +-1 std band, one panel per env. Runs of
different lengths are averaged only over the runs that reached a given step. A folder that holds
run folders (e.g. ``runs/her``) is expanded.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import math
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from baselines.common.runfolder import CONFIG_FILE, METRICS_FILE, read_csv, read_json

METRIC_LABELS = {
    "success_final": "success rate (final step)",
    "success_any": "success rate (any step)",
    "mean_return": "evaluation return",
}


@dataclass
class RunCurve:
    """The evaluation history of one run folder."""

    path: Path
    env: str
    algo: str
    seed: int
    steps: np.ndarray
    metrics: dict[str, np.ndarray]


@dataclass
class GroupCurve:
    """Mean and band of one (env, algo) group on a common step grid."""

    env: str
    algo: str
    steps: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_runs: np.ndarray  # runs that reached each step
    metric: str = ""


def find_run_dirs(paths: Sequence[str | Path]) -> list[Path]:
    """Run folders among ``paths``, expanding folders that contain run folders."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if (path / CONFIG_FILE).exists():
            found.append(path)
            continue
        children = sorted(p.parent for p in path.glob(f"*/{CONFIG_FILE}"))
        if not children:
            raise FileNotFoundError(f"{path} is not a run folder ({CONFIG_FILE} missing)")
        found.extend(children)
    return found


def algorithm_label(config: dict[str, object]) -> str:
    """The curve label of a run: its config's ``algorithm`` (e.g. ``"TD3+demos"``), else derived.

    HER run folders name the learner in ``algo`` (``"ddpg"`` -> ``"DDPG+HER"``) and, other than
    the default ``single``, their preset (``"DDPG+HER (plappert)"``).
    """
    if config.get("algorithm"):
        return str(config["algorithm"])
    algo = str(config.get("algo", config.get("runner", "?")))
    if config.get("runner") != "baselines.her":
        return algo
    preset = config.get("preset")
    return f"{algo.upper()}+HER" + (f" ({preset})" if preset and preset != "single" else "")


def load_run(path: str | Path) -> RunCurve:
    """Read ``config.json`` and ``metrics.csv`` of a run folder."""
    path = Path(path)
    config = read_json(path / CONFIG_FILE, expect=dict)
    metrics_path = path / METRICS_FILE
    try:
        rows = read_csv(metrics_path) if metrics_path.exists() else []
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{metrics_path} is damaged ({err}); restore it from a copy") from None
    if not rows:
        raise ValueError(f"{path} has no evaluations yet ({METRICS_FILE} empty or missing)")
    if "timesteps" not in rows[0]:
        raise ValueError(f"{metrics_path} is damaged (no timesteps column); restore it from a copy")  # fmt: skip
    values: dict[str, list[float]] = {key: [] for key in rows[0]}
    for line, row in enumerate(rows, start=2):
        try:
            for key in values:
                values[key].append(float(row[key]))
        except (TypeError, ValueError):
            raise ValueError(
                f"{metrics_path}: line {line} is damaged ({row}); restore the file, or --resume "
                "the run, which rewrites it from its checkpoint"
            ) from None
    steps = np.array(values["timesteps"])
    metrics = {key: np.array(column) for key, column in values.items() if key != "timesteps"}
    return RunCurve(
        path=path,
        env=str(config.get("env", "?")),
        algo=algorithm_label(config),
        seed=int(config.get("seed", 0)),
        steps=steps,
        metrics=metrics,
    )


def aggregate(runs: Sequence[RunCurve], metric: str, band: str = "minmax") -> GroupCurve:
    """Interpolate ``runs`` onto the union of their evaluation steps and reduce over runs."""
    if band not in ("minmax", "std"):
        raise ValueError("band must be 'minmax' or 'std'")
    grid = np.unique(np.concatenate([r.steps for r in runs]))
    values = np.full((len(runs), grid.size), np.nan)
    for i, run in enumerate(runs):
        if metric not in run.metrics:
            raise ValueError(f"{run.path}: no column {metric!r} in {METRICS_FILE}")
        inside = (grid >= run.steps[0]) & (grid <= run.steps[-1])
        values[i, inside] = np.interp(grid[inside], run.steps, run.metrics[metric])
    counts = np.sum(~np.isnan(values), axis=0)
    with warnings.catch_warnings():  # every grid step is covered by at least one run
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=0)
        if band == "minmax":
            low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        else:
            std = np.nanstd(values, axis=0)
            low, high = mean - std, mean + std
    return GroupCurve(runs[0].env, runs[0].algo, grid, mean, low, high, counts, metric)


def group_runs(runs: Sequence[RunCurve]) -> dict[tuple[str, str], list[RunCurve]]:
    """Runs keyed by (env, algo), in first-seen order."""
    groups: dict[tuple[str, str], list[RunCurve]] = defaultdict(list)
    for run in runs:
        groups[(run.env, run.algo)].append(run)
    return dict(groups)


def plot_runs(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    metrics: Sequence[str] = ("success_final",),
    band: str = "minmax",
    title: str | None = None,
    hlines: Sequence[tuple[float, str]] = (),
    ylim: tuple[float, float] | None = None,
    points: Sequence[tuple[str, Sequence[tuple[float, float]]]] = (),
) -> list[GroupCurve]:
    """Draw the figure to ``out`` and return the plotted group curves.

    ``hlines`` are reference levels drawn across every panel, e.g. the demonstrations' mean return;
    ``points`` are labelled reference markers (x, y) drawn on every panel, e.g. a paper's curve
    read from its figure; ``ylim`` fixes the y range (e.g. to look past the untrained policy's
    returns).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [load_run(p) for p in find_run_dirs(run_dirs)]
    groups = group_runs(runs)
    envs = list(dict.fromkeys(env for env, _ in groups))
    ncols = min(3, len(envs))
    nrows = math.ceil(len(envs) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(5.2 * ncols, 3.8 * nrows), squeeze=False, sharey=True
    )
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = ["-", "--", ":"]
    curves: list[GroupCurve] = []
    for (env, algo), members in groups.items():
        ax = axes.flat[envs.index(env)]
        colour = colours[sorted({a for _, a in groups}).index(algo) % len(colours)]
        for k, metric in enumerate(metrics):
            curve = aggregate(members, metric, band)
            curves.append(curve)
            label = f"{algo}, {METRIC_LABELS.get(metric, metric)} (n={len(members)})"
            ax.plot(curve.steps, curve.mean, styles[k % 3], color=colour, label=label)
            if len(members) > 1:
                ax.fill_between(curve.steps, curve.low, curve.high, color=colour, alpha=0.2)
        ax.set_title(env)
    for ax in axes.flat[: len(envs)]:
        for k, (value, text) in enumerate(hlines):
            ax.axhline(
                value, color=("k", "0.45")[k % 2], ls=("-.", ":")[k // 2 % 2], lw=1, label=text
            )
        for k, (text, xy) in enumerate(points):
            xs, ys = zip(*xy, strict=True)
            ax.plot(xs, ys, "osD^v"[k % 5], ls="none", mfc="none", color="k", label=text)
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        if ylim is not None:
            ax.set_ylim(*ylim)
        elif "mean_return" not in metrics:
            ax.set_ylim(-0.03, 1.03)
    for ax in axes.flat[len(envs) :]:
        ax.set_visible(False)
    band_text = "min-max" if band == "minmax" else "±1 std"
    axes.flat[0].set_ylabel(
        METRIC_LABELS.get(metrics[0], metrics[0]) if len(metrics) == 1 else "success rate"
    )
    fig.suptitle(title or f"mean over seeds, shaded {band_text}", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    plt.close(fig)
    return curves


def run_table(
    run_dirs: Sequence[str | Path], metric: str, reference: float | None = None, last: int = 5
) -> str:
    """A markdown table of every run's ``metric``: final, best (and its step), the mean of the
    ``last`` evaluations, the first step at or above ``reference``, env steps and wall time."""
    header = ["env", "algorithm", "seed", "env steps", "final", "best (step)", f"mean of last {last}"]  # fmt: skip
    if reference is not None:
        header.append(f"first step >= {reference:g}")
    header.append("wall time")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run in (load_run(p) for p in find_run_dirs(run_dirs)):
        if metric not in run.metrics:
            raise ValueError(f"{run.path}: no column {metric!r} in {METRICS_FILE}")
        values = run.metrics[metric]
        best = int(np.nanargmax(values))
        cells = [run.env, run.algo, str(run.seed), f"{int(run.steps[-1]):,}", f"{values[-1]:.2f}",
                 f"{values[best]:.2f} ({int(run.steps[best]):,})", f"{np.mean(values[-last:]):.2f}"]  # fmt: skip
        if reference is not None:
            above = np.nonzero(values >= reference)[0]
            cells.append(f"{int(run.steps[above[0]]):,}" if above.size else "never")
        wall = run.metrics.get("wall_time_s")
        cells.append(
            f"{wall[-1] / 3600:.2f} h" if wall is not None and np.isfinite(wall[-1]) else "?"
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def first_step_at(curve: GroupCurve, level: float) -> float:
    """The first step at which the mean curve reaches ``level`` (linear between evaluations),
    NaN if it never does."""
    above = np.nonzero(curve.mean >= level)[0]
    if above.size == 0:
        return math.nan
    k = int(above[0])
    if k == 0:
        return float(curve.steps[0])
    x0, x1, y0, y1 = curve.steps[k - 1], curve.steps[k], curve.mean[k - 1], curve.mean[k]
    return float(x0 + (level - y0) * (x1 - x0) / (y1 - y0))


def sample_efficiency(curves: Sequence[GroupCurve], reference: str) -> list[dict[str, object]]:
    """How many more env steps every other algorithm needs to match ``reference``'s final level.

    Per env and metric, the level is the reference group's final mean; ``steps_reference`` is
    the first step at which the reference reaches it, ``steps_other`` the other group's, and
    ``ratio`` = steps_other / steps_reference (NaN where the other never gets there: it is then
    more than ``last_step_other`` / steps_reference).
    """
    refs = {(c.env, c.metric): c for c in curves if c.algo == reference}
    if not refs:
        raise ValueError(f"--efficiency {reference}: no runs of that algorithm "
                         f"(found {sorted({c.algo for c in curves})})")  # fmt: skip
    rows: list[dict[str, object]] = []
    for curve in curves:
        ref = refs.get((curve.env, curve.metric))
        if ref is None or curve.algo == reference:
            continue
        level = float(ref.mean[-1])
        ref_steps, other_steps = first_step_at(ref, level), first_step_at(curve, level)
        rows.append({"env": curve.env, "metric": curve.metric, "reference": reference,
                     "other": curve.algo, "level": level, "steps_reference": ref_steps,
                     "steps_other": other_steps, "last_step_other": float(curve.steps[-1]),
                     "ratio": other_steps / ref_steps if ref_steps > 0 else math.nan})  # fmt: skip
    return rows


def _parse_points(
    parser: argparse.ArgumentParser, entry: Sequence[str]
) -> tuple[str, list[tuple[float, float]]]:
    """``LABEL X:Y [X:Y ...]`` of ``--points`` (a one-line error, exit 2, otherwise)."""
    if len(entry) < 2:
        parser.error(f"--points needs a LABEL and at least one X:Y, got {list(entry)}")
    xy = []
    for text in entry[1:]:
        x, sep, y = text.partition(":")
        try:
            if not sep:
                raise ValueError(text)
            xy.append((float(x), float(y)))
        except ValueError:
            parser.error(f"--points {entry[0]!r}: expected X:Y numbers such as 4e6:1400, got {text!r}")  # fmt: skip
    return entry[0], xy


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m baselines.plot``."""
    parser = argparse.ArgumentParser(
        prog="python -m baselines.plot",
        description="Plot success rate or return vs env steps (mean and band over seeds) from run folders.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", help="run folders, or folders containing run folders")
    parser.add_argument("--out", required=True, help="output image, e.g. fig.png")
    parser.add_argument(
        "--hline",
        nargs=2,
        action="append",
        default=[],
        metavar=("VALUE", "LABEL"),
        help="a reference level across the panels, e.g. --hline 44.4 'TOPDM demos' (repeatable)",
    )
    parser.add_argument(
        "--points",
        nargs="+",
        action="append",
        default=[],
        metavar="LABEL X:Y",
        help="labelled reference markers, e.g. --points 'paper (read from its figure)' 3.1e6:50 "
        "4e6:1400 (repeatable)",
    )
    parser.add_argument(
        "--metric",
        nargs="+",
        choices=tuple(METRIC_LABELS),
        default=["success_final"],
        help="one or more metrics (drawn solid, dashed, dotted)",
    )
    parser.add_argument(
        "--band", choices=("minmax", "std"), default="minmax", help="spread over seeds"
    )
    parser.add_argument("--title", default=None, help="figure title")
    parser.add_argument(
        "--ylim", nargs=2, type=float, default=None, metavar=("LOW", "HIGH"), help="y range"
    )
    parser.add_argument(
        "--table",
        default=None,
        help="also write a markdown table of every run's first --metric (final, best, first step "
        "at or above the first --hline) to this file",
    )
    parser.add_argument(
        "--efficiency",
        default=None,
        metavar="ALGO",
        help="also print, per metric, the env steps every other algorithm needs to reach ALGO's "
        "final mean success, and the ratio to ALGO's own (e.g. --efficiency PlanGAN)",
    )
    args = parser.parse_args(argv)
    try:
        hlines = [(float(value), label) for value, label in args.hline]
    except ValueError:
        parser.error(f"--hline VALUE must be a number, got {args.hline}")
    points = [_parse_points(parser, entry) for entry in args.points]
    if importlib.util.find_spec("matplotlib") is None:
        parser.error('plotting needs matplotlib: pip install "dexterous-gym[baselines]"')
    try:
        if args.ylim is not None and not args.ylim[0] < args.ylim[1]:
            parser.error(f"--ylim LOW HIGH needs LOW < HIGH, got {args.ylim}")
        ylim = tuple(args.ylim) if args.ylim is not None else None
        curves = plot_runs(
            args.runs, args.out, args.metric, args.band, args.title, hlines, ylim, points
        )
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))
    if args.table is not None:
        reference = hlines[0][0] if hlines else None
        table = run_table(args.runs, args.metric[0], reference)
        Path(args.table).write_text(table)
        print(table, end="")
    for c in curves:
        print(
            f"{c.env} {c.algo}: {int(c.n_runs.max())} run(s), last step {int(c.steps[-1])}, "
            f"mean {c.mean[-1]:.3f} (band {c.low[-1]:.3f}-{c.high[-1]:.3f})"
        )
    if args.efficiency is not None:
        try:
            rows = sample_efficiency(curves, args.efficiency)
        except ValueError as err:
            parser.error(str(err))
        for row in rows:
            other = (f"{row['steps_other']:,.0f} steps, ratio {row['ratio']:.2f}x"
                     if math.isfinite(row["steps_other"])  # type: ignore[arg-type]
                     else f"not within its {row['last_step_other']:,.0f} steps")  # fmt: skip
            print(f"{row['env']} {row['metric']}: {row['reference']} final {row['level']:.3f} at "
                  f"{row['steps_reference']:,.0f} steps; {row['other']}: {other}")  # fmt: skip
    print(f"wrote {args.out}")
    return 0
