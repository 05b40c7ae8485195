"""Versions of the software a result was made with, recorded next to every result file."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from collections.abc import Sequence
from typing import Any

# Distributions whose versions decide whether a result can be reproduced.
DEFAULT_PACKAGES = (
    "dexterous-gym",
    "gymnasium",
    "gymnasium-robotics",
    "mujoco",
    "numpy",
    "numba",
)


def package_versions(packages: Sequence[str] = DEFAULT_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (``None`` where it is not installed)."""
    out: dict[str, str | None] = {}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def environment_versions(packages: Sequence[str] = DEFAULT_PACKAGES) -> dict[str, Any]:
    """Python, platform and :func:`package_versions`."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": package_versions(packages),
    }
