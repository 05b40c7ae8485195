"""PettingZoo ``ParallelEnv`` wrapper of the FSM swarm (one PettingZoo agent per swarm agent).

pettingzoo is optional: install it with ``pip install "dexterous-gym[pettingzoo]"``.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np

try:
    from pettingzoo import AECEnv, ParallelEnv
    from pettingzoo.utils.conversions import parallel_to_aec
    from pettingzoo.utils.wrappers import OrderEnforcingWrapper
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "swarm_gym.pettingzoo_env needs pettingzoo; install it with "
        'pip install "dexterous-gym[pettingzoo]"'
    ) from exc

from gymnasium import spaces

from swarm_gym.envs import FSMSwarmEnv


class FSMSwarmParallelEnv(ParallelEnv):
    """Agents ``agent_0 .. agent_{N-1}``; each observes ``MultiBinary((2, n_s))`` (its previous and
    current visual state) and acts with ``Discrete(5)``. Rewards are the per-agent rewards of
    :class:`FSMSwarmEnv`; infos carry each agent's ``expert_action`` and ``fsm_counts``. All agents
    are truncated together at ``max_cycles`` (PettingZoo's name for :class:`FSMSwarmEnv`'s
    ``max_steps``). Other keyword arguments go to :class:`FSMSwarmEnv`; ``render_mode`` may be
    ``"rgb_array"`` or ``"human"``. ``state()`` is described by ``state_space``.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "fsm_swarm_v0",
        "render_modes": ["rgb_array", "human"],
        "render_fps": 15,
        "is_parallelizable": True,
    }

    def __init__(self, max_cycles: int | None = None, **kwargs: Any) -> None:
        if max_cycles is not None:  # PettingZoo's name for the episode length
            if "max_steps" in kwargs:
                raise ValueError("pass max_cycles or max_steps, not both (they are the same)")
            kwargs["max_steps"] = max_cycles
        self.env = FSMSwarmEnv(**kwargs)
        self.render_mode = self.env.render_mode
        self.max_cycles = self.env.max_steps
        n = self.env.config.n_agents
        self.possible_agents = [f"agent_{i}" for i in range(n)]
        self.agents: list[str] = []
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        # the global state of state(): positions (N, 2) and headings (N,) as (N, 3)
        self.state_space = spaces.Box(-np.inf, np.inf, shape=(n, 3), dtype=np.float64)

    @functools.cache  # noqa: B019 - one space object per agent, as PettingZoo expects
    def observation_space(self, agent: str) -> spaces.Space[Any]:
        """``MultiBinary((2, n_s))``."""
        return spaces.MultiBinary((2, self.env.config.n_sensors))

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Space[Any]:
        """``Discrete(5)``: right, left, slow, keep, fast."""
        return spaces.Discrete(5)

    def _split(
        self, obs: np.ndarray, info: dict[str, Any]
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        observations = {a: obs[i] for i, a in enumerate(self.possible_agents)}
        infos = {
            a: {
                "expert_action": int(info["expert_action"][i]),
                "fsm_counts": info["fsm_counts"][i],
                "order_parameter": info["order_parameter"],
            }
            for i, a in enumerate(self.possible_agents)
        }
        return observations, infos

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Reset the shared world; returns (observations, infos) dicts. ``options`` are accepted
        and unused, as PettingZoo's API test requires of every env (the Gymnasium swarm envs
        refuse them instead)."""
        del options
        obs, info = self.env.reset(seed=seed)
        self.agents = list(self.possible_agents)
        return self._split(obs, info)

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """One synchronous step; ``actions`` must hold a move for every live agent and nothing
        else (ValueError naming the agents otherwise, as for a step before :meth:`reset`)."""
        if not self.agents:
            raise ValueError("step() needs a live episode: call reset() first (and after the agents are done)")  # fmt: skip
        unknown = sorted(set(actions) - set(self.agents), key=str)
        if unknown:
            raise ValueError(f"actions holds agents that are not live: {unknown[:5]}; the live agents are agent_0 .. agent_{len(self.possible_agents) - 1}")  # fmt: skip
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"actions must contain every live agent; missing {missing[:5]}")
        arr = np.empty(len(self.possible_agents), dtype=np.int64)
        for i, agent in enumerate(self.possible_agents):
            move = actions[agent]
            value = np.asarray(move)
            if value.shape != () or value.dtype.kind not in "iuf" or value != np.round(value):
                raise ValueError(f"actions[{agent!r}] must be an integer move in 0..4, got {move!r}")  # fmt: skip
            if not 0 <= int(value) <= 4:
                raise ValueError(f"actions[{agent!r}] must be in 0..4, got {move!r}")
            arr[i] = int(value)
        obs, _, terminated, truncated, info = self.env.step(arr)
        observations, infos = self._split(obs, info)
        rewards = {a: float(info["rewards"][i]) for i, a in enumerate(self.possible_agents)}
        terminations = {a: bool(terminated) for a in self.possible_agents}
        truncations = {a: bool(truncated) for a in self.possible_agents}
        if terminated or truncated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def render(self) -> np.ndarray | None:
        """The RGB frame of the underlying env."""
        return self.env.render()

    def close(self) -> None:
        """Close the underlying env."""
        self.env.close()

    def state(self) -> np.ndarray:
        """Global state: positions (N, 2) and headings (N,) stacked as (N, 3) float64."""
        view = self.env.swarm.view
        return np.concatenate([view.positions, view.headings[:, None]], axis=1)


def parallel_env(**kwargs: Any) -> FSMSwarmParallelEnv:
    """The swarm as a PettingZoo ``ParallelEnv`` (PettingZoo's module convention)."""
    return FSMSwarmParallelEnv(**kwargs)


def raw_env(**kwargs: Any) -> AECEnv:
    """The swarm as a PettingZoo ``AECEnv`` (agents act in turn; the world steps once all have)."""
    return parallel_to_aec(parallel_env(**kwargs))


def env(**kwargs: Any) -> AECEnv:
    """:func:`raw_env` with PettingZoo's order-enforcing wrapper, as PettingZoo's own envs."""
    aec = raw_env(**kwargs)
    return aec if isinstance(aec, OrderEnforcingWrapper) else OrderEnforcingWrapper(aec)
