"""Summarise TOPDM / MPPI run folders: a Markdown table and a per-step figure.

    python -m baselines.topdm.report runs/topdm_* runs/mppi_* [--plot FIG.png] [--out TABLE.md]
    python -m baselines.topdm.report --video RUN/traj_000/trajectory.npz OUT.gif
    python -m baselines.topdm.report --campaigns CAMPAIGN... --plot FIG.png   # returns per env

Each trajectory folder (``RUN/traj_NNN``) is read from its ``summary.json`` when finished, else
from its latest checkpoint (marked unfinished), so a table can be made while runs go on.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from baselines.topdm.config import planner_name


def read_trajectory(folder: Path) -> dict[str, Any]:
    """One trajectory's per-step rewards and success, its budget and whether it finished."""
    from baselines.topdm.run import read_progress

    rewards, success, sim_steps, wall_s = np.zeros(0), np.zeros(0), 0, 0.0
    summary_path, trajectory_path = folder / "summary.json", folder / "trajectory.npz"
    if summary_path.exists() and trajectory_path.exists():
        # finished: the trajectory file and summary suffice (kept folders may lack checkpoints)
        from baselines.common.trajectory import load_trajectory

        traj = load_trajectory(trajectory_path)
        summary = json.loads(summary_path.read_text())
        rewards, success = np.asarray(traj.rewards), np.asarray(traj.success)
        sim_steps, wall_s = int(summary["sim_steps"]), float(summary["wall_s"])
    else:
        progress = read_progress(folder, repair=False)  # a report never writes
        if progress is not None:  # else: started, no control step completed yet
            rewards, success = progress["rewards"].copy(), progress["success"].copy()
            sim_steps, wall_s = int(progress["sim_steps"]), float(progress["wall_s"])
    run_config = json.loads((folder.parent / "config.json").read_text())
    hits = np.flatnonzero(success == 1.0)
    return {
        "folder": str(folder),
        "planner": planner_name(bool(run_config.get("mppi"))),
        "seed": run_config["seed"] + int(folder.name.split("_")[-1]),
        "steps": len(rewards),
        "traj_len": run_config["planner_config"]["traj_len"],
        "finished": (folder / "summary.json").exists(),
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
    args = parser.parse_args(argv)
    if args.video:
        return _video(*args.video)
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
