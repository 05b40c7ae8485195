"""What every baseline CLI shares.

* :mod:`~baselines.common.runfolder`  run folders, config/versions JSON, metrics CSV, atomic writes
* :mod:`~baselines.common.checkpoint` crash-safe checkpoints (model, replay buffer, normaliser)
* :mod:`~baselines.common.callbacks`  evaluation, checkpoint and progress-bar callbacks for SB3
* :mod:`~baselines.common.evaluation` deterministic evaluation: final-step and any-step success
* :mod:`~baselines.common.envs`       resolving and checking goal env IDs
* :mod:`~baselines.common.logger`     SB3 logger writing CSV and TensorBoard into a run folder
* :mod:`~baselines.common.runtime`    torch threads, headless rendering
* :mod:`~baselines.common.video`      mp4/gif evaluation videos
* :mod:`~baselines.common.plotting`   success-rate-vs-steps figures (``python -m baselines.plot``)

Modules importing torch or Stable-Baselines3 are not imported here, so ``baselines.common`` itself
stays cheap to import.
"""
