"""``python -m baselines.td3_demos --env PenSpin-v0 --preset {paper,reduced,smoke} --out DIR``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from baselines.common.cli import require_extra, run_cli
from baselines.common.runtime import configure_rendering
from baselines.td3_demos.config import PROG, parse_args


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, train, and turn setup errors into one clear line (exit status 2)."""
    configure_rendering()  # before MuJoCo is imported
    config = parse_args(argv)

    def body() -> int:
        require_extra("stable_baselines3", "baselines", PROG)
        import dexterous_gym  # noqa: F401  (registers the IDs)
        from baselines.td3_demos.train import run

        run(config)
        return 0

    return run_cli(PROG, body, verbose=config.verbose >= 2)


if __name__ == "__main__":
    sys.exit(main())
