"""Gymnasium environments of the FSM swarm: ``FSMSwarm-v0`` (all agents controlled) and
``FSMFocal-v0`` (one controlled agent among FSM-driven others).

Both run the same :class:`swarm_gym.model.FSMSwarm`. After every ``reset`` and ``step`` the FSM
decision for the new state is computed (one tree search per agent), so ``info["expert_action"]`` is
available, and the reward of the next step (log of the number of distinct future visual states on
the branch of the action taken, under the agent's internal ballistic model) is read from it.
Stepping with ``info["expert_action"]`` reproduces :class:`FSMSwarm` with the same seed exactly.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from swarm_gym.config import SwarmConfig, as_config
from swarm_gym.model import FSMSwarm, unpack_bits, validate_actions
from swarm_gym.render import render_frame
from swarm_gym.rewards import agent_rewards, reachable_rewards, validate_reward_mode

OTHERS_POLICIES = ("fsm", "ballistic", "random", "heuristic")


def _check_common(max_steps: Any, render_mode: Any, modes: list[str]) -> None:
    if isinstance(max_steps, bool) or not isinstance(max_steps, int | np.integer) or max_steps < 1:
        raise ValueError(f"max_steps must be an int >= 1, got {max_steps!r}")
    if render_mode is not None and render_mode not in modes:
        raise ValueError(f"render_mode must be None or one of {modes}, got {render_mode!r}")


def _check_no_options(options: Any) -> None:
    if options:
        keys = sorted(options) if isinstance(options, dict) else options
        raise ValueError(
            f"options: the swarm envs take no reset options, got {keys!r} (the start comes from "
            "the seed; FSMSwarm.set_state restores a saved swarm)"
        )


class _SwarmEnvBase(gym.Env[np.ndarray, Any]):
    """Shared state handling of the two environments."""

    metadata: dict[str, Any] = {"render_modes": ["rgb_array", "human"], "render_fps": 15}

    def _build(
        self,
        n_agents: int,
        horizon: int,
        max_steps: int,
        reward_mode: str,
        collision_reward: float,
        render_mode: str | None,
        config: SwarmConfig | None,
        options: dict[str, Any],
        swarm_policy: dict[str, Any] | None = None,
    ) -> None:
        _check_common(max_steps, render_mode, self.metadata["render_modes"])
        if render_mode == "human" and importlib.util.find_spec("matplotlib") is None:
            raise ValueError(
                'render_mode "human" draws with matplotlib, which is not installed: '
                'pip install "dexterous-gym[plots]" (or use render_mode="rgb_array")'
            )
        self._window: Any = None
        options = dict(options)
        allow_large = options.pop("allow_large", False)  # FSMSwarm's, not a config field
        if not isinstance(allow_large, bool | np.bool_):
            raise ValueError(f"allow_large must be True or False, got {allow_large!r}")
        self.config = as_config(config, n_agents=n_agents, horizon=horizon, **options)
        validate_reward_mode(reward_mode, self.config)
        if not np.isfinite(collision_reward):
            raise ValueError(f"collision_reward must be finite, got {collision_reward!r}")
        self.max_steps = int(max_steps)
        self.reward_mode = reward_mode
        self.collision_reward = float(collision_reward)
        self.render_mode = render_mode
        self.swarm = FSMSwarm(config=self.config, seed=0, allow_large=bool(allow_large), **(swarm_policy or {}))  # fmt: skip
        self.swarm.score_all = True  # the rewards need every agent's counts
        self.swarm.collect_reachable = reward_mode == "empowerment_next"
        self._prev_bits: np.ndarray | None = None

    def _reachable(self, active: np.ndarray | None = None) -> np.ndarray:
        """Reachable counts at the current state (collected in ``empowerment_next`` mode)."""
        reach = self.swarm.decide(active).reachable
        if reach is None:  # pragma: no cover - _build sets collect_reachable for that mode
            raise RuntimeError("the swarm did not collect reachable counts")
        return reach

    def _metrics_info(self) -> dict[str, Any]:
        sw = self.swarm
        info: dict[str, Any] = dict(sw.metrics())
        info["positions"] = sw.positions
        info["headings"] = sw.headings
        info["speeds"] = sw.speeds
        info["t"] = sw.t
        return info

    def render(self) -> np.ndarray | None:
        """An RGB frame of the flock (agents and headings) with ``render_mode="rgb_array"``; with
        ``"human"`` the frame is drawn in a matplotlib window (None is returned; on a machine
        without a display matplotlib draws nowhere, and the call only paces at render_fps)."""
        if self.render_mode is None:
            return None
        view = self.swarm.view
        frame = render_frame(view.positions, view.headings, radius=self.config.radius,
                             text=f"t={view.t}")  # fmt: skip
        if self.render_mode == "rgb_array":
            return frame
        import matplotlib.pyplot as plt  # an optional dependency (the plots extra)

        if self._window is None:
            plt.ion()
            figure, axes = plt.subplots()
            axes.set_axis_off()
            self._window = (figure, axes.imshow(frame))
        else:
            self._window[1].set_data(frame)
        plt.pause(1.0 / self.metadata["render_fps"])
        return None

    def close(self) -> None:
        if getattr(self, "_window", None) is not None:
            import matplotlib.pyplot as plt  # an optional dependency (the plots extra)

            plt.close(self._window[0])
            self._window = None
        super().close()


class FSMSwarmEnv(_SwarmEnvBase):
    """All N agents controlled at once.

    - action: ``MultiDiscrete([5] * N)``, moves in the order right, left, slow, keep, fast.
    - observation: ``MultiBinary((N, 2, n_s))`` int8, [previous, current] egocentric visual states
      (at reset the previous state equals the current one).
    - reward: the mean over agents of the per-agent rewards ``info["rewards"]`` (``reward_mode``:
      ``log_count`` (default), ``normalized``, ``regret``, ``soft``).
    - info: ``expert_action`` (N,), ``fsm_counts`` (N, 5), ``expert_tied`` (N, 5), ``rewards``,
      ``order_parameter``, ``mean_nn_distance``, ``opacity``, ``sensor_on_fraction``,
      ``overlapping_pairs``, ``largest_cluster_fraction``, ``n_lost``, ``positions``, ``headings``,
      ``speeds``, ``t``.
    - ``terminated`` is always False; ``truncated`` at ``max_steps``.

    Args:
        n_agents, horizon: N and tau.
        max_steps: episode length (the registered IDs also carry 1000 as
            ``max_episode_steps``; for another length through ``gym.make`` pass both,
            ``gym.make(ID, max_steps=N, max_episode_steps=N)``).
        reward_mode, collision_reward: see :func:`swarm_gym.rewards.agent_rewards`.
        render_mode: None, ``"rgb_array"`` or ``"human"`` (a matplotlib window).
        config: optional :class:`SwarmConfig`; ``**options`` override its fields.
        policy, weights, heuristic_agents: as :class:`FSMSwarm`: with ``policy="heuristic"``,
            ``info["expert_action"]`` of the heuristic agents (all, a fraction, a mask) is the NN
            heuristic's move; the tree search still runs for every agent, for the rewards and
            ``fsm_counts``.
    """

    def __init__(
        self,
        n_agents: int = 50,
        horizon: int = 4,
        max_steps: int = 1000,
        reward_mode: str = "log_count",
        collision_reward: float = -1.0,
        render_mode: str | None = None,
        config: SwarmConfig | None = None,
        policy: str = "fsm",
        weights: str | None = None,
        heuristic_agents: float | np.ndarray | None = None,
        **options: Any,
    ) -> None:
        swarm_policy = {"policy": policy, "weights": weights, "heuristic_agents": heuristic_agents}
        self._build(n_agents, horizon, max_steps, reward_mode, collision_reward, render_mode,
                    config, options, swarm_policy)  # fmt: skip
        n, n_s = self.config.n_agents, self.config.n_sensors
        self.action_space = spaces.MultiDiscrete(np.full(n, 5, dtype=np.int64))
        self.observation_space = spaces.MultiBinary((n, 2, n_s))

    def _obs_info(self, rewards: np.ndarray | None) -> tuple[np.ndarray, dict[str, Any]]:
        sw = self.swarm
        bits = sw.visual_bits().astype(np.int8)
        prev = bits if self._prev_bits is None else self._prev_bits
        self._prev_bits = bits
        obs = np.stack([prev, bits], axis=1)
        dec = sw.decide()
        info = self._metrics_info()
        info["expert_action"] = dec.action.copy()
        info["fsm_counts"] = dec.counts.copy()
        info["expert_tied"] = dec.tied.copy()
        if rewards is not None:
            info["rewards"] = rewards
        return obs, info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new episode: initial state from ``seed`` (see :meth:`FSMSwarm.reset`). The
        swarm takes no reset options: any are refused (ValueError) rather than ignored."""
        _check_no_options(options)
        super().reset(seed=seed)
        self.swarm.reset(rng=self.np_random)
        self._prev_bits = None
        return self._obs_info(None)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply one move per agent; raises ValueError for a bad action (state unchanged)."""
        actions = validate_actions(action, self.config.n_agents)
        dec = self.swarm.decide()
        self.swarm.step(actions)
        if self.reward_mode == "empowerment_next":
            rewards = reachable_rewards(self._reachable(), self.collision_reward)
        else:
            rewards = agent_rewards(self.reward_mode, actions, dec.counts, dec.scores, self.config,
                                    self.collision_reward)  # fmt: skip
        obs, info = self._obs_info(rewards)
        truncated = self.swarm.t >= self.max_steps
        return obs, float(rewards.mean()), False, truncated, info


class FSMFocalEnv(_SwarmEnvBase):
    """One controlled agent (``focal``) among N - 1 others.

    - action: ``Discrete(5)``; observation: ``MultiBinary(2 * n_s)`` int8, [previous, current].
    - reward: the focal agent's reward (``reward_mode`` as in :class:`FSMSwarmEnv`).
    - ``others_policy``: ``"fsm"`` (default), ``"ballistic"`` (keep speed and heading),
      ``"random"`` (uniform moves from the env generator) or ``"heuristic"`` (the NN heuristic of
      :mod:`swarm_gym.heuristic`, ``weights`` a weights file or None for the one shipped for
      the config's ``model``; only the focal agent's tree search runs).
    - ``lost_steps``: if set, terminate when the focal agent has seen nothing (all sensors off) for
      that many consecutive steps.
    - info: ``expert_action`` (int), ``fsm_counts`` (5,), ``expert_tied`` (5,), plus the swarm
      metrics, positions, headings and speeds.
    """

    def __init__(
        self,
        n_agents: int = 50,
        horizon: int = 4,
        focal: int = 0,
        others_policy: str = "fsm",
        max_steps: int = 1000,
        reward_mode: str = "log_count",
        collision_reward: float = -1.0,
        lost_steps: int | None = None,
        render_mode: str | None = None,
        config: SwarmConfig | None = None,
        weights: str | None = None,
        **options: Any,
    ) -> None:
        if others_policy not in OTHERS_POLICIES:
            raise ValueError(
                f"others_policy must be one of {OTHERS_POLICIES}, got {others_policy!r}"
            )
        if lost_steps is not None and (not isinstance(lost_steps, int) or lost_steps < 1):
            raise ValueError(f"lost_steps must be None or an int >= 1, got {lost_steps!r}")
        if weights is not None and others_policy != "heuristic":
            raise ValueError("weights need others_policy='heuristic'")
        self._build(n_agents, horizon, max_steps, reward_mode, collision_reward, render_mode,
                    config, options)  # fmt: skip
        if isinstance(focal, bool) or not isinstance(focal, int) or not 0 <= focal < n_agents:
            raise ValueError(f"focal must be an agent index in 0..{n_agents - 1}, got {focal!r}")
        if others_policy == "heuristic":
            others = np.ones(n_agents, dtype=np.bool_)
            others[focal] = False
            self.swarm = FSMSwarm(config=self.config, seed=0, policy="heuristic",
                                  weights=weights, heuristic_agents=others)  # fmt: skip
            self.swarm.collect_reachable = reward_mode == "empowerment_next"
        self.focal = focal
        self.others_policy = others_policy
        self.lost_steps = lost_steps
        self._blind = 0
        self.action_space = spaces.Discrete(5)
        self.observation_space = spaces.MultiBinary(2 * self.config.n_sensors)

    def _active(self) -> np.ndarray:
        active = np.zeros(self.config.n_agents, dtype=np.bool_)
        if self.others_policy == "fsm":
            active[:] = True
        active[self.focal] = True
        return active

    def _obs_info(self, reward: float | None) -> tuple[np.ndarray, dict[str, Any]]:
        sw = self.swarm
        bits = unpack_bits(sw.visual()[0][self.focal], self.config.n_sensors).astype(np.int8)
        prev = bits if self._prev_bits is None else self._prev_bits
        self._prev_bits = bits
        dec = sw.decide(self._active())
        info = self._metrics_info()
        info["expert_action"] = int(dec.action[self.focal])
        info["fsm_counts"] = dec.counts[self.focal].copy()
        info["expert_tied"] = dec.tied[self.focal].copy()
        if reward is not None:
            info["reward"] = reward
        return np.concatenate([prev, bits]), info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new episode (no reset options: any are refused rather than ignored)."""
        _check_no_options(options)
        super().reset(seed=seed)
        self.swarm.reset(rng=self.np_random)
        self._prev_bits = None
        self._blind = 0
        return self._obs_info(None)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply the focal agent's move; the others move by ``others_policy``."""
        if not self.action_space.contains(action) and not (
            isinstance(action, int | np.integer) and 0 <= int(action) < 5
        ):
            raise ValueError(f"action must be an int in 0..4, got {action!r}")
        action = int(action)
        sw = self.swarm
        dec = sw.decide(self._active())
        n = self.config.n_agents
        if self.others_policy in ("fsm", "heuristic"):
            actions = dec.action.copy()
        elif self.others_policy == "ballistic":
            actions = np.full(n, 3, dtype=np.int64)
        else:
            actions = self.np_random.integers(0, 5, size=n).astype(np.int64)
        actions[self.focal] = action
        sel = slice(self.focal, self.focal + 1)
        if self.reward_mode != "empowerment_next":
            reward = float(agent_rewards(self.reward_mode, actions[sel], dec.counts[sel],
                                         dec.scores[sel], self.config, self.collision_reward)[0])  # fmt: skip
        sw.step(actions)
        if self.reward_mode == "empowerment_next":
            reach = self._reachable(self._active())[sel]
            reward = float(reachable_rewards(reach, self.collision_reward)[0])
        obs, info = self._obs_info(reward)
        self._blind = self._blind + 1 if not obs[self.config.n_sensors :].any() else 0
        terminated = self.lost_steps is not None and self._blind >= self.lost_steps
        truncated = sw.t >= self.max_steps
        return obs, reward, bool(terminated), truncated, info
