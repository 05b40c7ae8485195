"""``python -m baselines.plangan --env ID --preset {paper,reduced,short,smoke} --out DIR``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from baselines.common.cli import algorithm_main
from baselines.plangan.config import PROG, parse_args


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, train, and turn setup errors into one clear line (exit status 2)."""
    return algorithm_main(PROG, argv, parse_args, "baselines.plangan.train:run", needs="torch")


if __name__ == "__main__":
    sys.exit(main())
