"""``python -m swarm_gym.experiments``: see :mod:`swarm_gym.experiments.cli`."""

from swarm_gym.experiments.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
