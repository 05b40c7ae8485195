"""``python -m baselines.td3_demos --env PenSpin-v0 --preset {paper,reduced,smoke} --out DIR``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from baselines.common.cli import algorithm_main
from baselines.td3_demos.config import PROG, parse_args


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, train, and turn setup errors into one clear line (exit status 2)."""
    return algorithm_main(PROG, argv, parse_args, "baselines.td3_demos.train:run")


if __name__ == "__main__":
    sys.exit(main())
