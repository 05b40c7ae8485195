"""The swarm's boundary: all-or-nothing set_state, the size guard, integer PettingZoo actions,
blockwise (interruptible) searches of large flocks giving the same decisions as one call, and
Ctrl-C during a large step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

swarm_gym = pytest.importorskip("swarm_gym")

bad_input = pytest.mark.bad_input


@bad_input
def test_swarm_set_state_is_all_or_nothing() -> None:
    swarm = swarm_gym.FSMSwarm(n_agents=5, horizon=1, seed=0)
    before = swarm.positions
    with pytest.raises(ValueError, match="speeds"):
        swarm.set_state(np.zeros((5, 2)), np.zeros(5), speeds=np.zeros(3))
    np.testing.assert_array_equal(swarm.positions, before)


@bad_input
def test_swarm_set_state_refuses_non_finite_speeds() -> None:
    swarm = swarm_gym.FSMSwarm(n_agents=5, horizon=1, seed=0)
    with pytest.raises(ValueError, match="speeds"):
        swarm.set_state(np.zeros((5, 2)), np.zeros(5), speeds=np.full(5, np.nan))


@bad_input
def test_swarm_sizes_have_a_guard() -> None:
    with pytest.raises(ValueError, match="allow_large=True"):
        swarm_gym.FSMSwarm(n_agents=10**7, horizon=1)  # about 7 GB at the first step
    # the explicit override is accepted (construction itself is cheap)
    assert swarm_gym.FSMSwarm(n_agents=6000, horizon=1, allow_large=True).config.n_agents == 6000


@bad_input
def test_pettingzoo_actions_must_be_integers() -> None:
    pytest.importorskip("pettingzoo")
    from swarm_gym.pettingzoo_env import FSMSwarmParallelEnv

    env = FSMSwarmParallelEnv(n_agents=4, horizon=1)
    env.reset(seed=0)
    before = env.state()
    with pytest.raises(ValueError, match="agent_0"):
        env.step({agent: 2.7 for agent in env.agents})
    np.testing.assert_array_equal(env.state(), before)


@bad_input
def test_large_flock_search_in_blocks_equals_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    import numba

    from swarm_gym import decision, interrupts, kernels

    swarm = swarm_gym.FSMSwarm(n_agents=30, horizon=2, seed=3)
    swarm.run(5)
    pos, th = swarm.positions, swarm.headings
    whole = decision.score_moves(swarm.config, pos, th, reachable=True)
    visual = kernels.visual_states(pos, th, 1.0, 0, 40, 0.5)
    calls: list[int] = []
    kernel = kernels.branch_scores_against

    def counted(*args: object) -> object:
        calls.append(1)
        return kernel(*args)

    # every block as small as the thread count allows
    monkeypatch.setattr(interrupts, "ONE_CALL_WORK", 0.0)
    monkeypatch.setattr(interrupts, "BLOCK_SECONDS", 0.0)
    monkeypatch.setattr(kernels, "branch_scores_against", counted)
    blocked = decision.score_moves(swarm.config, pos, th, reachable=True)
    assert len(calls) >= 30 // max(1, numba.get_num_threads())
    for a, b in zip(whole, blocked, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(visual, kernels.visual_states(pos, th, 1.0, 0, 40, 0.5), strict=True):
        np.testing.assert_array_equal(a, b)


_CTRL_C_CHILD = textwrap.dedent(
    """
    import signal
    import sys
    from swarm_gym import FSMSwarm

    # as in a terminal: a child of a shell's background job inherits SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)

    FSMSwarm(n_agents=20, seed=0).step()  # compile (or load) the kernels first
    swarm = FSMSwarm(n_agents=int(sys.argv[1]), seed=0, allow_large=True)
    print("stepping", flush=True)
    swarm.step()
    print("finished", flush=True)
    """
)


@bad_input
def test_ctrl_c_during_a_large_step_is_a_keyboard_interrupt_within_seconds(
    tmp_path: Path,
) -> None:
    """SIGINT one second into a step of 3 000 agents (tens of core-seconds): a KeyboardInterrupt
    traceback and exit within a few seconds, never a SystemError chain from inside numba or a
    crash."""
    script = tmp_path / "child.py"
    script.write_text(_CTRL_C_CHILD)
    root = Path(swarm_gym.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, str(script), "3000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "stepping"
        time.sleep(1.0)
        child.send_signal(signal.SIGINT)
        sent = time.perf_counter()
        _, stderr = child.communicate(timeout=60)
        latency = time.perf_counter() - sent
    finally:
        child.kill()
        child.wait()
    assert child.returncode != 0, "the step finished before the signal: raise N"
    assert child.returncode != -signal.SIGSEGV and "SystemError" not in stderr, stderr
    assert stderr.rstrip().endswith("KeyboardInterrupt"), stderr
    assert latency < 5.0, f"KeyboardInterrupt {latency:.1f} s after SIGINT"


@pytest.mark.bad_input
def test_pettingzoo_refuses_a_step_before_reset_and_agents_that_are_not_live() -> None:
    pytest.importorskip("pettingzoo")
    import swarm_gym

    env = swarm_gym.parallel_env(n_agents=4, horizon=1)
    moves = {f"agent_{i}": 3 for i in range(4)}
    with pytest.raises(ValueError, match=r"step\(\) needs a live episode: call reset\(\) first"):
        env.step(moves)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions holds agents that are not live: \['agent_9'\]"):
        env.step({**moves, "agent_9": 1})
    env.step(moves)  # the refused steps changed nothing


@pytest.mark.bad_input
@pytest.mark.parametrize("env_id", ["FSMSwarm-v0", "FSMFocal-v0"])
def test_swarm_envs_refuse_reset_options_instead_of_ignoring_them(env_id) -> None:
    import gymnasium as gym

    import swarm_gym  # noqa: F401

    env = gym.make(env_id, n_agents=4, horizon=1)
    with pytest.raises(
        ValueError, match=r"options: the swarm envs take no reset options, got \['state'\]"
    ):
        env.reset(options={"state": [0.0]})
    env.reset(seed=0, options={})  # empty options are fine


@pytest.mark.bad_input
@pytest.mark.parametrize("value", [-1, 2.5, "x", True])
def test_run_and_seed_name_their_argument(value) -> None:
    from swarm_gym import FSMSwarm

    swarm = FSMSwarm(8, 1, seed=0)
    with pytest.raises(ValueError, match=r"n_steps must be an integer >= 0"):
        swarm.run(value)
    if value != 2.5 and value != "x":
        with pytest.raises(ValueError, match=r"seed must be an integer >= 0 or None"):
            FSMSwarm(8, 1, seed=-3 if value == -1 else value)


@pytest.mark.bad_input
def test_the_swarm_env_takes_the_allow_large_its_error_recommends() -> None:
    import gymnasium as gym

    import swarm_gym  # noqa: F401

    with pytest.raises(ValueError, match="pass allow_large=True to run it"):
        gym.make("FSMSwarm-v0", n_agents=6000, horizon=1)
    assert gym.make("FSMSwarm-v0", n_agents=6000, horizon=1, allow_large=True).unwrapped.config.n_agents == 6000  # fmt: skip
    with pytest.raises(ValueError, match="allow_large must be True or False, got 'yes'"):
        gym.make("FSMSwarm-v0", n_agents=4, horizon=1, allow_large="yes")
