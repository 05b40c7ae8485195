"""TOPDM (Charlesworth & Montana, ICML 2021) and MPPI on exact batched simulator rollouts.

* :mod:`~baselines.topdm.config`    settings and the presets (paper, paper_k40, reduced, smoke)
* :mod:`~baselines.topdm.planner`   the TOPDM planning call and MPPI
* :mod:`~baselines.topdm.folder`    a trajectory folder: its files, identity, reads and writes
* :mod:`~baselines.topdm.run`       receding-horizon trajectory generator with checkpoints
* :mod:`~baselines.topdm.campaign`  many trajectories over several envs (:mod:`~baselines.topdm.jobs`,
  :mod:`~baselines.topdm.live`, :mod:`~baselines.topdm.backends`)
* :mod:`~baselines.topdm.report`    tables and figures of run folders and campaigns
"""
