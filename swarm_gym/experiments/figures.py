"""Figures of the experiments: the order-parameter plot, the steering plot, and GIF frames.

Frames are drawn with Pillow (:func:`swarm_gym.render.render_frame`); plots with matplotlib (Agg
backend, imported on first use).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from swarm_gym.experiments.presets import SteerPreset
from swarm_gym.render import auto_view, render_frame
from swarm_gym.view import SwarmView


def save_gif(path: Path, frames: Sequence[np.ndarray], fps: int = 15) -> None:
    """Write ``frames`` ((H, W, 3) uint8 each) as a looping GIF, with the project's one writer."""
    # importing dexterous_gym loads MuJoCo and gymnasium-robotics: only for this writer
    from dexterous_gym.video import write_video

    write_video(frames, path.with_suffix(".gif"), fps=fps)


class FlockCamera:
    """A square view that follows the flock; it widens at once but narrows by at most 3 % a
    frame, so the film does not jitter."""

    def __init__(self, min_half: float = 60.0, size: int = 320) -> None:
        self.min_half = min_half
        self.size = size
        self._view: tuple[np.ndarray, float] | None = None

    def frame(self, swarm: SwarmView, caption: str) -> np.ndarray:
        """The frame of the current state, with ``caption`` in the corner."""
        positions = swarm.positions
        centre, half = auto_view(positions, min_half=self.min_half)
        if self._view is not None:
            half = max(half, 0.97 * self._view[1])
        self._view = (centre, half)
        return render_frame(positions, swarm.headings, size=self.size, view=self._view,
                            text=caption)  # fmt: skip


def path_frame(
    swarm: SwarmView,
    waypoints: np.ndarray,
    informed: np.ndarray,
    active_waypoint: int,
    size: int = 320,
) -> np.ndarray:
    """A frame of a path run: the whole path in view, informed agents and the active waypoint
    highlighted."""
    lo, hi = np.minimum(waypoints.min(0), 0.0), waypoints.max(0)
    view = ((lo + hi) / 2.0, 0.55 * float((hi - lo).max()) + 20.0)
    return render_frame(swarm.positions, swarm.headings, size=size, view=view, informed=informed,
                        waypoints=waypoints, active_waypoint=active_waypoint,
                        text=f"t={swarm.t}")  # fmt: skip


def plot_order_parameter(path: Path, curves: dict[int, list[float]], burn_in: int) -> None:
    """The order parameter of every seed against the step (``reproduce``)."""
    import matplotlib  # an optional dependency (the plots extra)

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


def plot_steering(
    path: Path, p: SteerPreset, turns: list[dict[str, Any]], paths: list[dict[str, Any]]
) -> None:
    """Mean heading and order parameter of every turn run, and the flock centre of every path
    run against its waypoints (``steer``)."""
    import matplotlib  # an optional dependency (the plots extra)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=110)
    colours = {name: f"C{k}" for k, name in enumerate(p.turn_variants)}
    for r in turns:  # every seed, one colour per variant, labelled once
        label = r["variant"] if r["seed"] == p.seeds[0] else None
        kw = {"color": colours[r["variant"]], "label": label, "alpha": 0.8}
        axes[0].plot(np.degrees(np.unwrap(r["heading"])), lw=0.9, **kw)
        axes[1].plot(r["phi"], lw=0.7, **kw)
    tgt = [0 if t < p.turn_step else 90 for t in range(p.turn_step + p.after)]
    axes[0].plot(tgt, "k--", lw=0.8, label="target")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("mean heading (deg)")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("order parameter")
    axes[1].set_ylim(0.5, 1.0)
    axes[1].legend(fontsize=7)
    for k, (path_name, spec) in enumerate(p.paths.items()):
        wp = np.asarray(spec.waypoints)
        axes[2].plot(wp[:, 0], wp[:, 1], "o--", color="k", ms=4, lw=0.7)
        for r in paths:
            if r["path"] == path_name:
                c = np.asarray(r["centres"])
                label = f"{path_name} ({spec.variant})" if r["seed"] == p.seeds[0] else None
                axes[2].plot(c[:, 0], c[:, 1], lw=0.9, color=f"C{k}", alpha=0.8, label=label)
    axes[2].set_aspect("equal")
    axes[2].set_title("flock centre (lines, every seed) vs waypoints (dots)", fontsize=9)
    axes[2].legend(fontsize=7)
    seeds = ", ".join(map(str, p.seeds))
    axes[0].set_title(f"seeds {seeds}: target turns 90° at step {p.turn_step}", fontsize=9)
    axes[1].axhline(0.9, color="k", ls=":", lw=0.8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
