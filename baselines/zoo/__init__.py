"""rl-baselines3-zoo hyperparameters for the Dexterous Gym goal envs.

The zoo needs no wrapper or registration hook: ``--gym-packages dexterous_gym`` registers our IDs
and the files in :data:`HYPERPARAMS_DIR` are plain zoo YAML, one per algorithm (``tqc.yml``,
``sac.yml``)::

    python -m rl_zoo3.train --algo tqc --env EggHandOverSparse-v0 --gym-packages dexterous_gym \\
        --conf-file "$(python -c 'import baselines.zoo as z; print(z.hyperparams_file("tqc"))')"
"""

from __future__ import annotations

from pathlib import Path

HYPERPARAMS_DIR = Path(__file__).parent / "hyperparams"


def hyperparams_file(algo: str) -> Path:
    """The zoo YAML file for ``algo`` (``tqc``, ``sac``); ValueError naming the ones there are."""
    path = HYPERPARAMS_DIR / f"{algo}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in HYPERPARAMS_DIR.glob("*.yml"))
        raise ValueError(f"no zoo hyperparameters for {algo!r}; there are {known}")
    return path
