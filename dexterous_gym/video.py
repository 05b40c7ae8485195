"""The one video writer of the project: RGB frames to an animated GIF or an MP4, atomically.

GIFs need only Pillow (part of the base install); MP4 needs ffmpeg through ``imageio-ffmpeg``
(the ``video`` extra, included in ``baselines``). :func:`check_video_path` tells, before any work
is done, whether a path can be written, so a long rollout never ends in a missing-codec error.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

VIDEO_SUFFIXES = (".gif", ".mp4")


def mp4_available() -> bool:
    """True if imageio can reach an ffmpeg binary (``pip install "dexterous-gym[video]"``)."""
    return importlib.util.find_spec("imageio_ffmpeg") is not None


def default_suffix() -> str:
    """``.mp4`` where ffmpeg is available, else ``.gif``."""
    return ".mp4" if mp4_available() else ".gif"


def check_video_path(path: str | os.PathLike[str], name: str = "path") -> Path:
    """Validate a video path; ``ValueError`` naming ``name`` and the fix if it cannot be written.

    A path without a suffix gets :func:`default_suffix`.
    """
    path = Path(path)
    if path.suffix == "":
        return path.with_suffix(default_suffix())
    if path.suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"{name} must end in one of {VIDEO_SUFFIXES}, got {path.name!r}")
    if path.suffix == ".mp4" and not mp4_available():
        raise ValueError(
            f"{name} {path.name!r}: writing MP4 needs ffmpeg: pip install "
            '"dexterous-gym[video]" (or use a .gif name, which needs nothing more)'
        )
    return path


def caption(frame: np.ndarray, text: str) -> np.ndarray:
    """``frame`` with ``text`` drawn in its top-left corner (black on the light backgrounds)."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(np.asarray(frame))
    ImageDraw.Draw(image).text((6, 4), text, fill=(0, 0, 0))
    return np.asarray(image)


def write_video(
    frames: Sequence[np.ndarray], path: str | os.PathLike[str], fps: float = 25
) -> Path:
    """Write RGB ``frames`` (H, W, 3 uint8) to ``path`` and return the path written.

    The format follows the suffix (``.gif`` or ``.mp4``; none: :func:`default_suffix`). The data
    goes to a temporary sibling first, so an interrupted write never leaves half a file.
    """
    import imageio.v2 as imageio
    import imageio.v3 as iio

    if len(frames) == 0:
        raise ValueError("frames: no frames to write")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    path = check_video_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the temporary file keeps the suffix, so imageio picks the format from the name
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        if path.suffix == ".mp4":
            height, width = np.asarray(frames[0]).shape[:2]
            # H.264 wants sizes divisible by 16; pad instead of letting imageio rescale (and warn)
            pad = ((0, -height % 16), (0, -width % 16), (0, 0))
            writer: Any = imageio.get_writer(tmp, fps=fps, macro_block_size=1)
            with writer:
                for frame in frames:
                    writer.append_data(np.pad(np.asarray(frame), pad, mode="edge"))
        else:
            iio.imwrite(tmp, np.stack(frames), extension=".gif", duration=1000 / fps, loop=0)
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise RuntimeError(f"the video encoder wrote nothing for {path}")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
