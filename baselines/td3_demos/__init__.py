"""TD3+demos (Charlesworth & Montana, ICML 2021): TD3 guided by TOPDM demonstrations.

* :mod:`~baselines.td3_demos.wrappers`   previous-action coupling and demo-state segments
* :mod:`~baselines.td3_demos.normalizer` the running observation normaliser
* :mod:`~baselines.td3_demos.demos`      demo folders: loading, checking, the shipped PenSpin demos
* :mod:`~baselines.td3_demos.config`     the command line and the presets
* :mod:`~baselines.td3_demos.train`      the runner (``python -m baselines.td3_demos``)
* :mod:`~baselines.td3_demos.rollout`    what a final policy does over an episode, step by step
"""
