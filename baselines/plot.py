"""``python -m baselines.plot RUN_DIR [RUN_DIR ...] --out fig.png``: success rate vs env steps.

See :mod:`baselines.common.plotting`.
"""

import sys

from baselines.common.plotting import main

if __name__ == "__main__":
    sys.exit(main())
