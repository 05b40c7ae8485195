"""PlanGAN (Charlesworth & Montana, NeurIPS 2020): model-based planning with GAN ensembles.

``python -m baselines.plangan --env FetchPush-v4 --preset {paper,reduced,short,smoke} --out DIR``;
see ``docs/plangan.md``.
"""
