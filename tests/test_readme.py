"""The README's examples work as a newcomer runs them: headless, nothing set by hand."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM", "DISPLAY")}  # fmt: skip
    env["PYTHONPATH"] = str(REPO)
    return env


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def _commands(prefix: str) -> list[str]:
    lines = [ln.split("#")[0].strip() for ln in README.splitlines()]
    found = [ln[ln.index(prefix) :] for ln in lines if prefix in ln]
    assert found, f"the README shows no {prefix!r} command"
    return found


def test_usage_example_renders_headless_and_prints_nothing(tmp_path: Path) -> None:
    block = next(b for b in _python_blocks() if "TwoEggCatchUnderArmSparse-v0" in b)
    script = block + "\nassert frame.shape == (500, 500, 3), frame.shape\n"
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=_clean_env(), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # importing, making and rendering envs is silent (no notices, warnings or exit tracebacks)
    assert proc.stdout == "" and proc.stderr == "", proc.stderr


@pytest.mark.parametrize("command", _commands("python -m dexterous_gym "))
def test_dexterous_gym_commands_run_as_shown(command: str, tmp_path: Path) -> None:
    argv = shlex.split(command)[1:]
    proc = subprocess.run(
        [sys.executable, *argv], cwd=tmp_path, env=_clean_env(), capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    if "rollout" in argv:
        out = tmp_path / argv[argv.index("--out") + 1]
        assert out.stat().st_size > 0


def test_swarm_example_runs_as_shown(tmp_path: Path) -> None:
    block = next(b for b in _python_blocks() if "FSMSwarm(n_agents=50" in b)
    script = (
        block + '\nassert sw.metrics()["order_parameter"] > 0.9\nassert obs.shape == (50, 2, 40)\n'
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=_clean_env(), capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
