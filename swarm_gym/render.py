"""Fast frame rendering with Pillow: discs with a heading line (no matplotlib per frame)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

BACKGROUND = (250, 250, 247)
AGENT = (40, 90, 160)
INFORMED = (210, 70, 40)
HEADING = (20, 20, 20)
WAYPOINT = (40, 150, 60)


def auto_view(
    positions: np.ndarray, margin: float = 1.15, min_half: float = 40.0
) -> tuple[np.ndarray, float]:
    """(centre, half_width) of a square view fitting every agent."""
    centre = positions.mean(axis=0)
    half = max(min_half, margin * float(np.abs(positions - centre).max()) + 4.0)
    return centre, half


def render_frame(
    positions: np.ndarray,
    headings: np.ndarray,
    radius: float = 1.0,
    size: int = 400,
    view: tuple[np.ndarray, float] | None = None,
    informed: np.ndarray | None = None,
    waypoints: np.ndarray | None = None,
    active_waypoint: int | None = None,
    text: str | None = None,
) -> np.ndarray:
    """Draw one frame and return it as a (size, size, 3) uint8 array.

    Args:
        positions: (N, 2) centres; headings: (N,) radians.
        radius: agent radius in world units (drawn at least 2 px).
        size: image side in pixels.
        view: (centre, half_width) in world units; default :func:`auto_view`.
        informed: indices of informed agents (drawn in another colour).
        waypoints: optional (K, 2) path to draw; ``active_waypoint`` is highlighted.
        text: optional caption in the top-left corner.
    """
    pos = np.asarray(positions, dtype=np.float64)
    th = np.asarray(headings, dtype=np.float64)
    centre, half = view if view is not None else auto_view(pos)
    scale = size / (2.0 * half)
    px = (pos[:, 0] - centre[0]) * scale + size / 2.0
    py = size / 2.0 - (pos[:, 1] - centre[1]) * scale
    r = max(2.0, radius * scale)
    img = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    if waypoints is not None:
        wp = np.asarray(waypoints, dtype=np.float64)
        wx = (wp[:, 0] - centre[0]) * scale + size / 2.0
        wy = size / 2.0 - (wp[:, 1] - centre[1]) * scale
        draw.line(list(zip(wx.tolist(), wy.tolist(), strict=True)), fill=WAYPOINT, width=1)
        for k, (x, y) in enumerate(zip(wx, wy, strict=True)):
            rr = 5 if k == active_waypoint else 3
            draw.ellipse((x - rr, y - rr, x + rr, y + rr), outline=WAYPOINT, width=2)
    colours = [AGENT] * len(pos)
    if informed is not None:
        for i in np.asarray(informed, dtype=np.int64):
            colours[int(i)] = INFORMED
    length = max(3.0 * r, 6.0)
    hx = px + length * np.cos(th)
    hy = py - length * np.sin(th)
    for i in range(len(pos)):
        draw.line((px[i], py[i], hx[i], hy[i]), fill=HEADING, width=1)
        draw.ellipse((px[i] - r, py[i] - r, px[i] + r, py[i] + r), fill=colours[i])
    if text:
        draw.text((5, 5), text, fill=HEADING)
    return np.asarray(img, dtype=np.uint8)
