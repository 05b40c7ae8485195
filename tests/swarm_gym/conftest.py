"""Test setup for swarm_gym: make the repository and this folder importable when the package is not
installed (pytest runs with --import-mode=importlib)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE.parents[1], HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
