"""Stable-Baselines3 logger set-up for run folders: CSV plus TensorBoard (plus stdout if asked).

TensorBoard event files of all sessions of a run live in ``RUN_DIR/logs`` (TensorBoard merges
them, steps are env steps). SB3's CSV writer truncates its file, so a resumed session writes
``progress_from_<step>.csv`` next to the first session's ``progress.csv``.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from stable_baselines3.common.logger import (
    CSVOutputFormat,
    HumanOutputFormat,
    KVWriter,
    Logger,
    TensorBoardOutputFormat,
)

LOG_DIR = "logs"


def make_logger(run_dir: str | Path, start_timesteps: int = 0, stdout: bool = False) -> Logger:
    """A logger writing to ``RUN_DIR/logs``; the CSV name depends on where this session starts."""
    folder = Path(run_dir) / LOG_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = "progress.csv" if start_timesteps == 0 else f"progress_from_{start_timesteps}.csv"
    formats: list[KVWriter] = [CSVOutputFormat(str(folder / name))]
    # TensorBoard is optional for the logger (SB3 asserts it is installed); CSV is enough.
    with contextlib.suppress(ImportError, AssertionError):
        formats.append(TensorBoardOutputFormat(str(folder)))
    if stdout:
        formats.append(HumanOutputFormat(sys.stdout))
    return Logger(str(folder), formats)
