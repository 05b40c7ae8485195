"""``python -m baselines.her --env ID --algo {ddpg,td3,sac} --timesteps N --out DIR [--resume]``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from baselines.common.cli import require_extra, run_cli
from baselines.common.runtime import configure_rendering

PROG = "python -m baselines.her"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, train, and turn setup errors into one clear line (exit status 2)."""
    configure_rendering()  # before MuJoCo is imported
    from baselines.her.config import parse_args

    args = parse_args(argv)

    def body() -> int:
        require_extra("stable_baselines3", "baselines", PROG)
        from baselines.her.train import run

        run(args)
        return 0

    return run_cli(PROG, body, verbose=args.verbose >= 2)


if __name__ == "__main__":
    sys.exit(main())
