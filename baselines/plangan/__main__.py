"""``python -m baselines.plangan --env ID --preset {paper,reduced,smoke} --out DIR``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from baselines.common.cli import require_extra, run_cli
from baselines.common.runtime import configure_rendering
from baselines.plangan.config import PROG, parse_args


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, train, and turn setup errors into one clear line (exit status 2)."""
    configure_rendering()  # before MuJoCo is imported
    config = parse_args(argv)

    def body() -> int:
        require_extra("torch", "baselines", PROG)
        from baselines.plangan.train import run

        run(config)
        return 0

    return run_cli(PROG, body, verbose=config.verbose >= 2)


if __name__ == "__main__":
    sys.exit(main())
