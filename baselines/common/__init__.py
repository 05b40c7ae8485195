"""What every baseline CLI shares.

* :mod:`~baselines.common.cli`        typed dataclass configs that are also the command lines
* :mod:`~baselines.common.runfolder`  run folders, config/versions JSON, the metrics schema, atomic writes
* :mod:`~baselines.common.checkpoint` crash-safe checkpoints for any algorithm: checksums, run identity
* :mod:`~baselines.common.sb3`        what a Stable-Baselines3 checkpoint holds, and restoring it
* :mod:`~baselines.common.sb3_run`    one SB3 run in a run folder: the runners' resume skeleton
* :mod:`~baselines.common.callbacks`  evaluation, checkpoint and progress-bar callbacks for SB3
* :mod:`~baselines.common.evaluation` deterministic evaluation (SB3's evaluate_policy): final-step and any-step success
* :mod:`~baselines.common.envs`       checking env IDs, ``make_env`` with wrappers, vectorised envs
* :mod:`~baselines.common.trajectory` trajectory files (TOPDM output, demonstrations)
* :mod:`~baselines.common.logger`     SB3 logger writing CSV and TensorBoard into a run folder
* :mod:`~baselines.common.runtime`    torch threads, headless rendering
* :mod:`~baselines.common.video`      evaluation episodes to GIF/MP4 through :mod:`dexterous_gym.video`
* :mod:`~baselines.common.plotting`   curves vs env steps, labelled by algorithm (``python -m baselines.plot``)

Modules importing torch or Stable-Baselines3 are not imported here, so ``baselines.common`` itself
stays cheap to import.
"""
