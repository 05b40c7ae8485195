"""``python -m baselines.her --env ID --algo {ddpg,td3,sac} --timesteps N --out DIR [--resume]``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from baselines.common.cli import algorithm_main
from baselines.her.config import parse_args

PROG = "python -m baselines.her"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, train, and turn setup errors into one clear line (exit status 2)."""
    return algorithm_main(PROG, argv, parse_args, "baselines.her.train:run")


if __name__ == "__main__":
    sys.exit(main())
