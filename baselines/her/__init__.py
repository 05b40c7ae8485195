"""Hindsight Experience Replay baseline: Stable-Baselines3's HerReplayBuffer with DDPG, TD3 or SAC.

Run ``python -m baselines.her --help``. The defaults are the papers' DDPG+HER settings
(see :mod:`baselines.her.config`); the runner lives in :mod:`baselines.her.train`.
"""
