"""Fault injection and bad input, shared pieces: markers, run-folder fixtures and snapshots.

Every test item of this suite is marked ``fault`` (something done to a run folder or a file: what
a crash, a full disk, a careless ``rm`` or a copied folder does) or ``bad_input`` (a bad value fed
to a public entry point); ``pytest tests/reliability --collect-only -q -m fault`` counts them.

The finished runs the faults are done to are made once per session, with the smallest budgets
(HER: 100 steps of FetchReach-v4 with a 16-unit network; TOPDM: the smoke preset; TD3+demos: 150
steps of the smoke preset) and copied for each fault, so the suite stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the helpers module (pytest runs with --import-mode=importlib)
    sys.path.insert(0, str(HERE))

from reliability_helpers import her_argv, td3_argv, topdm_argv  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fault: a fault done to a run folder or file")
    config.addinivalue_line("markers", "bad_input: a bad value fed to a public entry point")


def _made_once(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    out = factory.mktemp(name) / "run"
    make(out)
    return out


@pytest.fixture(scope="session")
def her_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished HER run (seed 3), made once."""
    pytest.importorskip("stable_baselines3")
    from baselines.her.__main__ import main

    return _made_once(tmp_path_factory, "her", lambda out: _ok(main(her_argv(out))))


@pytest.fixture(scope="session")
def her_run_other_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished HER run of another seed (4): its checkpoints must not be taken for seed 3's."""
    pytest.importorskip("stable_baselines3")
    from baselines.her.__main__ import main

    return _made_once(tmp_path_factory, "her4", lambda out: _ok(main(her_argv(out, seed=4))))


@pytest.fixture(scope="session")
def topdm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished TOPDM smoke run (one 3-step trajectory, seed 0), made once."""
    from baselines.topdm.__main__ import main

    return _made_once(tmp_path_factory, "topdm", lambda out: _ok(main(topdm_argv(out))))


@pytest.fixture(scope="session")
def td3_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished TD3 smoke run (150 steps, no demos), made once."""
    pytest.importorskip("stable_baselines3")
    from baselines.td3_demos.__main__ import main

    return _made_once(tmp_path_factory, "td3", lambda out: _ok(main(td3_argv(out))))


def _ok(code: int) -> None:
    assert code == 0
