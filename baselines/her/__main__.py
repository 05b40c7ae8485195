"""``python -m baselines.her --env ID --algo {ddpg,td3,sac} --timesteps N --out DIR [--resume]``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from baselines.common.runtime import configure_rendering


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, train, and turn setup errors into one clear line (exit status 2)."""
    configure_rendering()  # before MuJoCo is imported
    from baselines.her.config import parse_args

    args = parse_args(argv)
    from baselines.her.train import run

    try:
        run(args)
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        if args.verbose >= 2:
            raise
        print(f"python -m baselines.her: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
