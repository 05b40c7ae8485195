"""Summarise TOPDM / MPPI run folders: a Markdown table and a per-step figure; a campaign's
success table (``OUT/results.md``).

    python -m baselines.topdm.report runs/topdm_* runs/mppi_* [--plot FIG.png] [--out TABLE.md]
    python -m baselines.topdm.report --video RUN/traj_000/trajectory.npz OUT.gif
    python -m baselines.topdm.report --campaigns CAMPAIGN... --plot FIG.png   # returns per env
    python -m baselines.topdm.report --budget-curve CAMPAIGN... [--plot FIG.png] [--out TABLE.md]

Each trajectory folder (``RUN/traj_NNN``) is read from its ``summary.json`` when finished, else
from its latest checkpoint (marked unfinished), so a table can be made while runs go on; a file
of another trajectory (copied in) is refused, naming it. ``--budget-curve``: success against env
steps per trajectory, TOPDM against MPPI (:mod:`baselines.topdm.budget`; TABLE.json beside
TABLE.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from baselines.common.runfolder import atomic_write, read_json, write_json
from baselines.topdm.config import make_config, planner_name, simulated_steps
from baselines.topdm.folder import RUN_CONFIG, TrajectoryFolder

if TYPE_CHECKING:
    from baselines.topdm.jobs import Job, JobState

RESULTS_FILE = "results"  # OUT/results.md and OUT/results.json: a campaign's success table

# TOPDM success counts of the original code's committed trajectory sets (SCDM,
# prerun_trajectories/, 2020-09-14): very likely those behind the ICML 2021 paper's TOPDM success
# rates, at the paper preset. PenReorientation-v0 is the stock one-hand pen task in SCDM's form
# (HandManipulatePenFull in the original set).
PAPER_SUCCESS: dict[str, tuple[int, int]] = {
    "EggHandOver-v0": (53, 54),
    "BlockHandOver-v0": (50, 50),
    "PenHandOver-v0": (43, 50),
    "EggCatchUnderarm-v0": (64, 66),
    "EggCatchOverarm-v0": (48, 50),
    "TwoEggCatchUnderArm-v0": (19, 30),
    "PenReorientation-v0": (89, 107),
}

# MPPI's success rates in the ICML 2021 paper (kappa = 20), read by eye from the result figures on
# the paper's project website (about +-0.02; "about 0" where the bar is not visible).
PAPER_MPPI_SUCCESS: dict[str, float] = {
    "EggHandOver-v0": 0.19,
    "BlockHandOver-v0": 0.15,
    "PenHandOver-v0": 0.12,
    "EggCatchUnderarm-v0": 0.04,
    "EggCatchOverarm-v0": 0.02,
    "TwoEggCatchUnderArm-v0": 0.0,
    "PenReorientation-v0": 0.0,
}


def read_trajectory(path: Path) -> dict[str, Any]:
    """One trajectory's per-step rewards and success, its budget and whether it finished.

    Its files must belong to it (trajectory ``NNN`` of the run its ``config.json`` describes);
    files written before files named their trajectory are read as they are.
    """
    folder = TrajectoryFolder.in_run(path, require_identity=False)
    rewards, success, sim_steps, wall_s = np.zeros(0), np.zeros(0), 0, 0.0
    finished = folder.summary_file.exists()
    if finished and folder.trajectory_file.exists():
        # finished: the trajectory file and summary suffice (kept folders may lack checkpoints)
        traj = folder.load_trajectory()
        summary = folder.read_summary()
        rewards, success = np.asarray(traj.rewards), np.asarray(traj.success)
        sim_steps, wall_s = int(summary["sim_steps"]), float(summary["wall_s"])
    else:
        progress = folder.progress(repair=False)  # a report never writes
        if progress is not None:  # else: started, no control step completed yet
            rewards, success = progress.rewards.copy(), progress.success.copy()
            sim_steps, wall_s = progress.sim_steps, progress.wall_s
    run_config = read_json(path.parent / RUN_CONFIG, expect=dict)
    hits = np.flatnonzero(success == 1.0)
    assert folder.identity is not None  # in_run knows it
    return {
        "folder": str(path),
        "planner": planner_name(bool(run_config.get("mppi"))),
        "seed": folder.identity.seed,
        "steps": len(rewards),
        "traj_len": run_config["planner_config"]["traj_len"],
        "finished": finished,
        "success_final": bool(success[-1] == 1.0) if len(success) else False,
        "first_success": int(hits[0]) if hits.size else None,
        "return": float(rewards.sum()),
        "sim_steps": sim_steps,
        "wall_s": wall_s,
        "rewards": rewards,
        "success": success,
    }


def collect(run_dirs: Sequence[str | Path]) -> list[dict[str, Any]]:
    """All trajectories of the given run folders, sorted by planner and seed."""
    rows = []
    for run in map(Path, run_dirs):
        folders = sorted(run.glob("traj_*"))
        if not folders:
            raise FileNotFoundError(f"{run}: no traj_* folders (not a TOPDM run folder)")
        rows += [read_trajectory(f) for f in folders]
    return sorted(rows, key=lambda r: (r["planner"], r["seed"]))


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """Per-trajectory rows, then one line per planner over its finished trajectories."""
    lines = [
        "| planner | seed | control steps | success at the last step | first success (step) "
        "| return | env steps simulated | wall time | env steps/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        steps = f"{r['steps']}/{r['traj_len']}" + ("" if r["finished"] else " (unfinished)")
        first = "-" if r["first_success"] is None else str(r["first_success"])
        # throughput tells apart rows that ran on different machines or thread counts
        rate = f"{r['sim_steps'] / r['wall_s']:.0f}" if r["wall_s"] > 0 else "-"
        lines.append(
            f"| {r['planner']} | {r['seed']} | {steps} | {'yes' if r['success_final'] else 'no'} "
            f"| {first} | {r['return']:.2f} | {r['sim_steps'] / 1e6:.2f} M | {r['wall_s'] / 60:.0f} min "
            f"| {rate} |"
        )
    for planner in sorted({r["planner"] for r in rows}):
        done = [r for r in rows if r["planner"] == planner and r["finished"]]
        if done:
            rate = np.mean([r["success_final"] for r in done])
            lines.append(
                f"\n**{planner}**: success at the last step in {sum(r['success_final'] for r in done)}"
                f" of {len(done)} finished trajectories ({rate:.2f}); mean return "
                f"{np.mean([r['return'] for r in done]):.2f}."
            )
    return "\n".join(lines) + "\n"


def final_distances(jobs: Sequence[Job]) -> tuple[float, float] | None:
    """Median over the finished trajectories of the distances left at the last step: position
    (m) and rotation (rad), the worse object's for two objects; how far from success a task
    stayed. ``None`` for envs without a goal or without finished trajectories."""
    from baselines.topdm.run import dexterous_env  # the env stack: only for campaign tables

    folders = [job.trajectory_folder for job in jobs]
    folders = [folder for folder in folders if folder.trajectory_file.exists()]
    if not folders:
        return None
    env = dexterous_env(jobs[0].env_id)
    try:
        if not env.has_goal:
            return None
        d_pos, d_rot = [], []
        for folder in folders:
            env.set_state(folder.load_trajectory().states[-1])
            terms = env.evaluate(env.data.qpos, env.data.qvel, env.goal).terms
            d_pos.append(max(float(v) for k, v in terms.items() if k.startswith("d_pos")))
            d_rot.append(max(float(v) for k, v in terms.items() if k.startswith("d_rot")))
        return float(np.median(d_pos)), float(np.median(d_rot))
    finally:
        env.close()


def success_table(jobs: Sequence[Job], states: dict[Job, JobState]) -> list[dict[str, Any]]:
    """One row per env: success at the final step with a 95 % Wilson interval, success at any
    step, returns, the distances left at the last step, and the budget beside the paper's."""
    from scipy.stats import binomtest  # only campaign tables need scipy

    rows = []
    for env_id in dict.fromkeys(job.env_id for job in jobs):
        env_jobs = [job for job in jobs if job.env_id == env_id]
        summaries: list[dict[str, Any]] = [
            s for s in (states[j].summary for j in env_jobs) if s is not None
        ]
        returns = np.array([float(s["return"]) for s in summaries])
        finals = [s.get("success_final") for s in summaries]
        has_success = bool(finals) and all(f is not None for f in finals)
        k, n = (sum(map(bool, finals)), len(finals)) if has_success else (0, 0)
        ci = binomtest(k, n).proportion_ci(0.95, method="wilson") if n else None
        any_hits = sum(bool(s.get("success_any")) for s in summaries) if has_success else None
        distances = final_distances([j for j in env_jobs if states[j].summary is not None])
        budget = env_jobs[0].cost
        paper = simulated_steps(make_config("paper", env_id))
        rows.append(
            {
                "env_id": env_id,
                "planner": planner_name(env_jobs[0].mppi),
                "finished": len(summaries),
                "trajectories": len(env_jobs),
                "successes": k if has_success else None,
                "success_rate": k / n if n else None,
                "ci95": [float(ci.low), float(ci.high)] if ci is not None else None,
                "success_any": any_hits,
                "mean_return": float(returns.mean()) if returns.size else None,
                "sd_return": float(returns.std(ddof=1)) if returns.size > 1 else None,
                "final_d_pos_median": distances[0] if distances else None,
                "final_d_rot_median": distances[1] if distances else None,
                "env_steps_per_trajectory": budget,
                "paper_env_steps_per_trajectory": paper,
                "budget_fraction": budget / paper,
                "paper_success": PAPER_SUCCESS.get(env_id),
                "paper_mppi_success": PAPER_MPPI_SUCCESS.get(env_id),
                "wall_s": sum(float(s.get("wall_s", 0.0)) for s in summaries),
            }
        )
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The success table as Markdown."""
    head = (
        "| env | planner | trajectories | success (final step) | 95 % CI (Wilson) | success (any step) "
        "| mean return (sd) | left at the last step: d_pos, d_rot (median) "
        "| env steps / trajectory | of the paper's | paper: TOPDM | paper: MPPI |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        n = f"{r['finished']}/{r['trajectories']}"
        if r["success_rate"] is None:
            rate = ci = anyhit = "n/a (no success)"
        else:
            rate = f"{r['successes']}/{r['finished']} = {r['success_rate']:.2f}"
            ci = f"[{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]"
            anyhit = f"{r['success_any']}/{r['finished']}"
        ret = "-" if r["mean_return"] is None else f"{r['mean_return']:.2f}"
        if r["sd_return"] is not None:
            ret += f" ({r['sd_return']:.2f})"
        left = "-"
        if r["final_d_pos_median"] is not None:
            left = f"{100 * r['final_d_pos_median']:.1f} cm, {r['final_d_rot_median']:.2f} rad"
        paper = r["paper_success"]
        paper_text = f"{paper[0]}/{paper[1]} = {paper[0] / paper[1]:.2f}" if paper else "-"
        mppi = r.get("paper_mppi_success")
        mppi_text = "-" if mppi is None else ("about 0" if mppi == 0 else f"about {mppi:.2f}")
        lines.append(
            f"| {r['env_id']} | {r['planner']} | {n} | {rate} | {ci} | {anyhit} | {ret} | {left} "
            f"| {_steps(r['env_steps_per_trajectory'])} | {100 * r['budget_fraction']:.2g} % "
            f"| {paper_text} | {mppi_text} |"
        )
    return "\n".join(lines)


def _steps(n: int) -> str:
    return f"{n / 1e6:.3g} M" if n >= 1e6 else f"{n / 1e3:.3g} k"


def write_results(out: Path, rows: Sequence[dict[str, Any]]) -> str:
    """``OUT/results.md`` and ``OUT/results.json`` (atomically); returns the Markdown."""
    text = format_table(rows) + "\n"
    atomic_write(out / f"{RESULTS_FILE}.md", lambda handle: handle.write(text.encode()))
    write_json(out / f"{RESULTS_FILE}.json", list(rows))
    return text


def plot(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Dense reward per control step and success, one line per trajectory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_r, ax_s) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    maps = {"topdm": plt.cm.Blues, "mppi": plt.cm.Oranges}
    n_runs = Counter(r["planner"] for r in rows)
    drawn: Counter[str] = Counter()
    for k, r in enumerate(rows):
        shade = 0.45 + 0.5 * drawn[r["planner"]] / max(n_runs[r["planner"]] - 1, 1)
        drawn[r["planner"]] += 1
        colour = maps.get(r["planner"], plt.cm.Greys)(shade)
        style = "-" if r["finished"] else ":"
        label = f"{r['planner']} seed {r['seed']}" + ("" if r["finished"] else " (unfinished)")
        ax_r.plot(r["rewards"], style, color=colour, lw=1.2, label=label)
        # success lines are offset a little so that overlapping trajectories stay visible
        ax_s.step(np.arange(len(r["success"])), r["success"] - 0.03 * k, style, where="post",
                  color=colour, lw=1.2)  # fmt: skip
    ax_r.set_ylabel("dense reward")
    ax_s.set_ylabel("is_success (offset per run)")
    ax_s.set_xlabel("control step")
    ax_r.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_campaigns(campaigns: Sequence[Path], path: Path) -> None:
    """Return of every trajectory per env, one marker colour per campaign (filled: success at
    the last step), beside each other on a shared env axis: how planners or settings compare
    across tasks. Each campaign folder is labelled by its planner and ``--set`` overrides."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from baselines.topdm.campaign import CAMPAIGN_FILE

    labelled = []
    for folder in map(Path, campaigns):
        settings = json.loads((folder / CAMPAIGN_FILE).read_text())
        label = planner_name(settings["mppi"]).upper() + "".join(f", {o}" for o in settings["overrides"])  # fmt: skip
        labelled.append((label, folder, settings["envs"]))
    envs = list(dict.fromkeys(env for _, _, names in labelled for env in names))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(envs)), 3.8))
    width = 0.8 / len(labelled)
    for k, (label, folder, names) in enumerate(labelled):
        colour = plt.cm.tab10(k)
        for name in names:
            rows = [read_trajectory(f) for f in sorted((folder / name).glob("traj_*"))]
            rows = [r for r in rows if r["finished"]]
            x = envs.index(name) - 0.4 + width * (k + 0.5) + np.linspace(-0.25, 0.25, len(rows)) * width  # fmt: skip
            for xi, r in zip(x, rows, strict=True):
                ax.plot(xi, r["return"], "o", color=colour, mfc=colour if r["success_final"] else "none")  # fmt: skip
        ax.plot([], [], "o", color=colour, label=label)
    ax.set_xticks(range(len(envs)), [e.replace("-v0", "") for e in envs], rotation=20, fontsize=8)
    ax.set_ylabel("return (sum of dense rewards)")
    ax.legend(fontsize=8, title="filled: success at the last step", title_fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _video(trajectory: Path, gif: Path) -> int:
    from baselines.common.runtime import configure_rendering

    configure_rendering()
    import dexterous_gym  # noqa: F401  (registers the IDs)
    from baselines.common.trajectory import TrajectoryFileError, load_trajectory
    from baselines.topdm.run import write_video

    try:
        traj = load_trajectory(trajectory)
    except (TrajectoryFileError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    meta = traj.meta
    title = f"{meta['planner'].upper()} {meta['env_id']} seed {meta['seed']}"
    result = write_video(meta["env_id"], traj.states, gif, traj.rewards, traj.success, title)
    if result.startswith("not written"):
        print(f"error: {result}", file=sys.stderr)
        return 1
    print(f"wrote {gif}")
    return 0


def _budget_curve(campaigns: Sequence[Path], fig: Path | None, out: Path | None) -> int:
    from baselines.topdm.budget import (
        budget_curve,
        format_budget_table,
        plot_budget_curve,
        write_budget_table,
    )

    try:
        curve = budget_curve(campaigns)
    except ValueError as err:  # BudgetCurveError, and damaged or foreign trajectory files
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(write_budget_table(curve, out) if out else format_budget_table(curve))
    if out:
        print(f"wrote {out} and {out.with_suffix('.json')}")
    if fig:
        plot_budget_curve(curve, fig)
        print(f"wrote {fig}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baselines.topdm.report",
        description=__doc__.replace("``", ""),  # the docstring without its reST markup
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="*", help="run folders written by python -m baselines.topdm")
    parser.add_argument("--plot", type=Path, help="write the per-step figure here (PNG; default: none)")  # fmt: skip
    parser.add_argument("--out", type=Path, help="write the Markdown table here (default: stdout only)")  # fmt: skip
    parser.add_argument("--video", nargs=2, type=Path, metavar=("TRAJECTORY", "GIF"),
                        help="render a trajectory file to a captioned GIF")  # fmt: skip
    parser.add_argument("--campaigns", nargs="+", type=Path, metavar="CAMPAIGN",
                        help="campaign folders (python -m baselines.topdm.campaign) to compare")  # fmt: skip
    parser.add_argument("--budget-curve", nargs="+", type=Path, metavar="CAMPAIGN",
                        help="TOPDM and MPPI campaign folders of one env at several n_samples: "
                        "success against env steps per trajectory (--plot, --out)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.video:
        return _video(*args.video)
    if args.budget_curve:
        return _budget_curve(args.budget_curve, args.plot, args.out)
    if args.campaigns:
        if not args.plot:
            parser.error("--campaigns needs --plot FIG.png")
        missing = [str(c) for c in args.campaigns if not (c / "config.json").is_file()]
        if missing:
            parser.error(f"not campaign folders (no config.json): {', '.join(missing)}")
        plot_campaigns(args.campaigns, args.plot)
        print(f"wrote {args.plot}")
        return 0
    if not args.runs:
        parser.error("give run folders (or --video TRAJECTORY GIF)")
    try:
        rows = collect(args.runs)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table = markdown_table(rows)
    print(table)
    if args.out:
        args.out.write_text(table)
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
