"""TOPDM campaign throughput against its trajectories run one after another, in one run.

    python benchmarks/bench_campaign.py [--env BlockHandOver-v0] [--trajectories 3] [--no-ray]

The same trajectories (a small planner setting: N 20, H 10, K0 2, 10 control steps, about
5 k simulated env steps each; one rollout thread, no videos) three ways:

* ``sequential``: ``run_trajectory`` called for each, one after another: the baseline;
* ``campaign (in process)``: ``python -m baselines.topdm.campaign --local``: folders, live
  table, monitor thread and success table included;
* ``campaign (Ray, 1 worker)``: a local Ray with one one-CPU worker, so that the hardware is the
  same as the baseline's; Ray's start-up is timed too.

Prints simulated env steps per second of each and the ratio to ``sequential`` (target >= 0.95);
for Ray also the fixed start-up (until a worker picks up the first trajectory) and the ratio
after it, which is what a campaign of hours sees.
The modes run in turn, twice, and the faster of the two is kept, so load from other processes
hits all of them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import dexterous_gym  # noqa: F401
from baselines.topdm.campaign import WORKER_FILE, CampaignConfig, ray_available, run_campaign
from baselines.topdm.config import make_config, simulated_steps
from baselines.topdm.run import run_trajectory

SETTINGS = ("n_samples=20", "horizon=10", "k0=2", "traj_len=10", "frac_best=0.1")


def overrides() -> dict[str, float | int]:
    from baselines.topdm.config import parse_overrides

    return parse_overrides(SETTINGS)


def sequential(env_id: str, n: int, root: Path) -> float:
    config = make_config("smoke", env_id, **overrides())
    tic = time.perf_counter()
    for seed in range(n):
        run_trajectory(env_id, config, seed, root / f"traj_{seed:03d}", video=False, n_threads=1, progress_bar=False, index=seed)  # fmt: skip
    return time.perf_counter() - tic


def campaign(env_id: str, n: int, root: Path, use_ray: bool) -> tuple[float, float]:
    """Wall time of the whole campaign, and the part before the first trajectory started (Ray's
    start-up and the campaign's checks)."""
    args = CampaignConfig(
        envs=(env_id,), preset="smoke", out=root, trajectories=n, overrides=SETTINGS,
        local=not use_ray, workers=1, threads=1, video=False, refresh=1.0,
    )  # fmt: skip
    with open(os.devnull, "w") as sink:
        tic, wall_tic = time.perf_counter(), time.time()
        run_campaign(args, stream=sink)
        wall = time.perf_counter() - tic
    if use_ray:  # each Ray task records when a worker picked it up
        first = min(json.loads(p.read_text())["started"] for p in root.glob(f"*/traj_*/{WORKER_FILE}"))  # fmt: skip
        return wall, first - wall_tic
    return wall, 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="BlockHandOver-v0")
    parser.add_argument("--trajectories", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray backend")
    args = parser.parse_args()
    steps = args.trajectories * simulated_steps(make_config("smoke", args.env, **overrides()))
    modes = ["sequential", "campaign (in process)"]
    if ray_available() and not args.no_ray:
        modes.append("campaign (Ray, 1 worker)")
    best: dict[str, float] = {}
    startup: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(2):
            for mode in modes:
                root = Path(tmp) / f"{repeat}-{len(best)}-{mode.split()[0]}-{mode[-9:-1]}"
                if mode == "sequential":
                    wall, start = sequential(args.env, args.trajectories, root), 0.0
                else:
                    wall, start = campaign(args.env, args.trajectories, root, "Ray" in mode)
                if wall < best.get(mode, float("inf")):
                    best[mode], startup[mode] = wall, start
    print(f"{args.env}: {args.trajectories} trajectories, {steps} simulated env steps in all")
    base = steps / best["sequential"]
    for mode in modes:
        rate = steps / best[mode]
        line = f"{mode:<26} {rate:8.0f} env steps/s   ratio {rate / base:.3f}"
        if startup.get(mode):
            after = steps / (best[mode] - startup[mode])
            line += f"   (start-up {startup[mode]:.1f} s; after it {after:.0f} env steps/s, ratio {after / base:.3f})"  # fmt: skip
        print(line)


if __name__ == "__main__":
    main()
