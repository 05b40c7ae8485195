"""TOPDM (Charlesworth & Montana, ICML 2021) and MPPI on exact batched simulator rollouts.

* :mod:`~baselines.topdm.config`      settings and the presets (paper, paper_k40, reduced, smoke)
* :mod:`~baselines.topdm.planner`     the TOPDM planning call and MPPI
* :mod:`~baselines.topdm.run`         receding-horizon trajectory generator with checkpoints
* :mod:`~baselines.topdm.trajectory`  re-exports :mod:`baselines.common.trajectory` (trajectory files)
"""
