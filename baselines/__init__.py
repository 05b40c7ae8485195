"""Agents for Dexterous Gym, run against the registered IDs (the ``baselines`` extra).

* :mod:`baselines.common`    the one scaffold: configs as CLIs, run folders, checkpoints, evaluation
* :mod:`baselines.her`       Hindsight Experience Replay on Stable-Baselines3
* :mod:`baselines.topdm`     TOPDM and MPPI trajectory optimisation on batched rollouts
* :mod:`baselines.td3_demos` TD3 guided by TOPDM demonstrations (PenSpin)

See docs/ARCHITECTURE.md.
"""

from importlib.metadata import PackageNotFoundError, version

try:  # one version for the three packages: the distribution's (pyproject.toml)
    __version__ = version("dexterous-gym")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
