"""The two Gymnasium wrappers that turn Stable-Baselines3's TD3 into TD3+demos.

Charlesworth & Montana (ICML 2021): TD3 whose executed action is coupled to the
previous one, conditioned on that previous action, and regularly restarted from states of TOPDM
demonstrations. Both pieces are wrappers, so they serve any off-policy learner (TD3, SAC, and HER
on goal envs):

* :class:`PrevActionWrapper`: the agent's action is a "mean" mu; the env executes
  ``a = clip(beta * mu + (1 - beta) * a_prev, -1, 1)`` and the observation carries ``a_prev``.
  For fixed ``a_prev`` the executed action is an affine bijection of mu, so a critic
  ``Q((s, a_prev), mu)`` is an exact reparametrisation of the paper's ``Q(s, a_prev, a)``; the
  target action and the actor loss blend the same way.
* :class:`DemoSegmentWrapper`: data is collected in segments of 15 steps. Each starts, with
  probability ``p_demo``, from a state of a demonstration (with the demo action that preceded it
  as ``a_prev``), with probability ``p_reset`` from a fresh reset, and otherwise continues the
  long-running main episode. Both probabilities decay by ``decay`` per segment. Segments end with
  ``truncated=True``, so learners bootstrap across the cut (no terminal masking anywhere).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from baselines.common.envs import make_env

PREV_ACTION_KEY = "prev_action"
OBSERVATION_KEY = "observation"
SegmentKind = Literal["demo", "reset", "main"]
SEGMENT_KINDS: tuple[SegmentKind, ...] = ("demo", "reset", "main")
SEED_OFFSETS: dict[SegmentKind, int] = {"main": 0, "demo": 1, "reset": 2}


def _check_action(action: Any, space: spaces.Box) -> np.ndarray:
    array = np.asarray(action)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"action must be a numeric array, got dtype {array.dtype}")
    if array.shape != space.shape:
        raise ValueError(f"action must have shape {space.shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"action must be finite, got {array}")
    return array.astype(np.float64)


class PrevActionWrapper(gym.Wrapper[dict[str, Any], np.ndarray, Any, np.ndarray]):
    """Previous-action conditioning and beta-coupled actions (``beta = 1``: plain actions).

    The observation becomes a Dict: the inner Dict's entries (goal envs: ``observation``,
    ``achieved_goal``, ``desired_goal``) or ``observation`` for a Box env, plus ``prev_action``,
    the action executed at the previous step (zeros after a reset). ``reset(options=...)`` accepts
    ``"prev_action"`` (e.g. the demo action that led to a demo state); other options go to the
    inner env. ``info["executed_action"]`` is the blended action.
    """

    def __init__(self, env: gym.Env[Any, Any], beta: float = 0.7) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, spaces.Box):
            raise TypeError(f"env: PrevActionWrapper needs a Box action space, got {env.action_space}")  # fmt: skip
        if not np.all(env.action_space.low == -1) or not np.all(env.action_space.high == 1):
            raise ValueError("env: PrevActionWrapper needs actions in [-1, 1]")
        if not (isinstance(beta, int | float) and 0.0 < float(beta) <= 1.0):
            raise ValueError(f"beta must be a number in (0, 1], got {beta!r}")
        self.beta = float(beta)
        self._action_box: spaces.Box = env.action_space
        prev_box = spaces.Box(-1.0, 1.0, env.action_space.shape, np.float64)
        inner = env.observation_space
        if isinstance(inner, spaces.Dict):
            if PREV_ACTION_KEY in inner.spaces:
                raise ValueError(f"env: its observation already has a {PREV_ACTION_KEY!r} entry")
            entries = dict(inner.spaces)
        elif isinstance(inner, spaces.Box):
            entries = {OBSERVATION_KEY: inner}
        else:
            raise TypeError(f"env: needs a Box or Dict observation space, got {inner}")
        self.observation_space = spaces.Dict({**entries, PREV_ACTION_KEY: prev_box})
        self.prev_action = np.zeros(env.action_space.shape, np.float64)

    def _observe(self, obs: Any) -> dict[str, Any]:
        entries = dict(obs) if isinstance(obs, dict) else {OBSERVATION_KEY: obs}
        return {**entries, PREV_ACTION_KEY: self.prev_action.copy()}

    def blend(self, mean: np.ndarray) -> np.ndarray:
        """The executed action for the agent's ``mean`` at the current ``prev_action``."""
        return np.clip(self.beta * mean + (1.0 - self.beta) * self.prev_action, -1.0, 1.0)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        options = dict(options or {})
        prev = options.pop(PREV_ACTION_KEY, None)
        if prev is not None:
            prev = _check_action(prev, self._action_box)
            if np.any(np.abs(prev) > 1):
                raise ValueError(f"options['prev_action'] must lie in [-1, 1], got {prev}")
        obs, info = self.env.reset(seed=seed, options=options or None)
        self.prev_action = (
            np.zeros(self._action_box.shape, np.float64) if prev is None else prev.copy()
        )
        return self._observe(obs), info

    def step(self, action: np.ndarray) -> tuple[dict[str, Any], Any, bool, bool, dict[str, Any]]:
        executed = self.blend(_check_action(action, self._action_box))
        obs, reward, terminated, truncated, info = self.env.step(executed.astype(np.float32))
        self.prev_action = executed
        info = {**info, "executed_action": executed}
        return self._observe(obs), reward, terminated, truncated, info


@dataclass(frozen=True)
class DemoStates:
    """Pooled start points from demonstrations: simulator states and the action before each.

    ``prev_actions[k]`` is the demo action that led to ``states[k]`` (zeros at a demo's start).
    """

    states: np.ndarray  # (n, state_size), env.unwrapped.get_state() vectors
    prev_actions: np.ndarray  # (n, action_dim)
    env_id: str

    def __post_init__(self) -> None:
        if self.states.ndim != 2 or self.prev_actions.ndim != 2:
            raise ValueError("states and prev_actions must be 2-D arrays")
        if len(self.states) != len(self.prev_actions) or len(self.states) == 0:
            raise ValueError(
                f"states ({len(self.states)}) and prev_actions ({len(self.prev_actions)}) "
                "must be non-empty and of the same length"
            )

    def __len__(self) -> int:
        return len(self.states)


class DemoSegmentWrapper(gym.Env[dict[str, Any], np.ndarray]):
    """TD3+demos' data collection: 15-step segments from demo states, fresh resets or the main
    episode, as one env whose ``reset`` starts the next segment.

    ``make_env(seed)`` builds one :class:`PrevActionWrapper` env (without a TimeLimit); three are
    made: the main episode's (seed ``seed``), the demo-state env (``seed + 1``) and the
    fresh-reset env (``seed + 2``). The main episode counts only its own steps and restarts after
    ``episode_steps``; it resumes from its true current observation at its next segment (the
    original code started every such segment from the main episode's first observation).
    ``info["segment"]`` names the segment kind. With ``demos=None`` (or ``p_demo = 0``) no demo
    segments are drawn.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        make_env: Callable[[int], PrevActionWrapper],
        demos: DemoStates | None,
        seed: int = 0,
        segment_steps: int = 15,
        episode_steps: int = 250,
        p_demo: float = 0.7,
        p_reset: float = 0.2,
        decay: float = 0.999996,
    ) -> None:
        for name, value in (("p_demo", p_demo), ("p_reset", p_reset)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        if p_demo + p_reset > 1.0:
            raise ValueError(f"p_demo + p_reset must be <= 1, got {p_demo} + {p_reset}")
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"decay must lie in (0, 1], got {decay}")
        if segment_steps < 1 or episode_steps < 1:
            raise ValueError("segment_steps and episode_steps must be >= 1")
        if p_demo > 0 and demos is None:
            raise ValueError("p_demo > 0 needs demonstrations (demos=None)")
        self.envs: dict[SegmentKind, PrevActionWrapper] = {
            "main": make_env(seed),
            "demo": make_env(seed + 1),
            "reset": make_env(seed + 2),
        }
        self.demos = demos
        self.segment_steps = segment_steps
        self.episode_steps = episode_steps
        self.decay = decay
        self.p_demo, self.p_reset = float(p_demo), float(p_reset)
        main = self.envs["main"]
        if demos is not None and demos.states.shape[1] != main.unwrapped.state_size:  # type: ignore[attr-defined]
            raise ValueError(
                f"demos: states of size {demos.states.shape[1]} do not fit {demos.env_id} envs "
                f"of state size {main.unwrapped.state_size}"  # type: ignore[attr-defined]
            )
        self.observation_space = main.observation_space
        self.action_space = main.action_space
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._seeded: set[SegmentKind] = set()
        self.n_segments = 0
        self.kind: SegmentKind = "main"
        self.segment_t = 0
        self.main_t = 0
        self._main_obs: dict[str, Any] | None = None  # None: the main episode must (re)start

    # -- the scheduler -------------------------------------------------------------------------
    def probabilities(self) -> dict[SegmentKind, float]:
        """The current chances of the next segment's kind."""
        return {"demo": self.p_demo, "reset": self.p_reset, "main": 1.0 - self.p_demo - self.p_reset}  # fmt: skip

    def _reset_env(self, kind: SegmentKind, options: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        env = self.envs[kind]
        # each env is seeded at its first reset (main s, demo s+1, fresh s+2, as in the
        # original), then continues its own random stream
        seed = None if kind in self._seeded else self._seed + SEED_OFFSETS[kind]
        self._seeded.add(kind)
        obs, _ = env.reset(seed=seed, options=options)
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start the next segment (SB3 calls this after every segment's ``truncated``)."""
        if options:
            raise ValueError(f"DemoSegmentWrapper.reset takes no options, got {sorted(options)}")
        if seed is not None:
            self._seed = int(seed)
            self._rng = np.random.Generator(np.random.PCG64(self._seed))
            self._seeded.clear()
            self._main_obs = None
        if self.n_segments > 0:
            self.p_demo *= self.decay
            self.p_reset *= self.decay
        self.n_segments += 1
        u = self._rng.random()
        self.kind = "demo" if u < self.p_demo else "reset" if u < self.p_demo + self.p_reset else "main"  # fmt: skip
        self.segment_t = 0
        if self.kind == "demo":
            assert self.demos is not None
            k = int(self._rng.integers(len(self.demos)))
            obs = self._reset_env(
                "demo",
                {"state": self.demos.states[k], PREV_ACTION_KEY: self.demos.prev_actions[k]},
            )
        elif self.kind == "reset":
            obs = self._reset_env("reset")
        else:
            if self._main_obs is None:
                self._main_obs = self._reset_env("main")
                self.main_t = 0
            obs = self._main_obs
        return obs, {"segment": self.kind}

    def step(self, action: np.ndarray) -> tuple[dict[str, Any], Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.envs[self.kind].step(action)
        self.segment_t += 1
        end = self.segment_t >= self.segment_steps or terminated or truncated
        if self.kind == "main":
            self.main_t += 1
            if self.main_t >= self.episode_steps or terminated or truncated:
                self._main_obs, end = None, True  # the main episode restarts at its next segment
            else:
                self._main_obs = obs
        return obs, reward, bool(terminated), bool(end and not terminated), {**info, "segment": self.kind}  # fmt: skip

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> Any:
        """The goal env's reward, for Hindsight Experience Replay's relabelling (goal envs only)."""
        return self.envs["main"].get_wrapper_attr("compute_reward")(achieved_goal, desired_goal, info)  # fmt: skip

    # -- resuming -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything that decides the wrapper's future: restore it with :meth:`restore`."""
        envs = {}
        for kind, env in self.envs.items():
            base = env.unwrapped
            envs[kind] = {
                "state": base.get_state() if kind in self._seeded else None,  # type: ignore[attr-defined]
                "prev_action": env.prev_action.copy(),
                "np_random": base.np_random.bit_generator.state if kind in self._seeded else None,
            }
        return {
            "rng": self._rng.bit_generator.state,
            "seed": self._seed,
            "seeded": sorted(self._seeded),
            "p_demo": self.p_demo,
            "p_reset": self.p_reset,
            "n_segments": self.n_segments,
            "kind": self.kind,
            "segment_t": self.segment_t,
            "main_t": self.main_t,
            "main_obs": self._main_obs,
            "envs": envs,
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Put the wrapper and its envs back where :meth:`snapshot` found them."""
        for kind, saved in snapshot["envs"].items():
            env = self.envs[kind]
            if saved["state"] is not None:
                env.reset(options={"state": saved["state"], PREV_ACTION_KEY: saved["prev_action"]})
                env.unwrapped.np_random.bit_generator.state = saved["np_random"]
        self._rng.bit_generator.state = snapshot["rng"]
        self._seed = int(snapshot["seed"])
        self._seeded = set(snapshot["seeded"])
        self.p_demo, self.p_reset = float(snapshot["p_demo"]), float(snapshot["p_reset"])
        self.n_segments = int(snapshot["n_segments"])
        self.kind = snapshot["kind"]
        self.segment_t = int(snapshot["segment_t"])
        self.main_t = int(snapshot["main_t"])
        self._main_obs = snapshot["main_obs"]

    def close(self) -> None:
        for env in self.envs.values():
            env.close()


def demo_states_from_trajectories(
    trajectories: Sequence[Any], env_id: str, action_dim: int
) -> DemoStates:
    """Pool the states of loaded trajectory files, each with the action that preceded it.

    ``trajectories`` are :class:`baselines.common.trajectory.Trajectory` objects. Every state of
    every trajectory is a start point, its start state with a zero previous action.
    """
    states, prevs = [], []
    for traj in trajectories:
        n = len(traj.actions)
        if traj.actions.shape[1] != action_dim:
            raise ValueError(f"demos: actions of size {traj.actions.shape[1]}, the env has {action_dim}")  # fmt: skip
        states.append(traj.states)
        prev = np.zeros((n + 1, action_dim))
        prev[1:] = traj.actions
        prevs.append(prev)
    return DemoStates(np.concatenate(states), np.clip(np.concatenate(prevs), -1, 1), env_id)


def make_prev_action_env(env_id: str, beta: float, seed: int = 0, **kwargs: Any) -> PrevActionWrapper:  # fmt: skip
    """The raw env of ``env_id`` (no TimeLimit: segments and episodes are counted by
    :class:`DemoSegmentWrapper`) under previous-action coupling ``beta``."""
    del seed  # seeded at its first reset by the segment wrapper
    env = make_env(env_id, [lambda env: PrevActionWrapper(env.unwrapped, beta)], **kwargs)
    assert isinstance(env, PrevActionWrapper)
    return env


def make_segment_env(
    env_id: str,
    demos: DemoStates | None,
    *,
    seed: int,
    beta: float,
    segment_steps: int = 15,
    episode_steps: int = 250,
    p_demo: float = 0.7,
    p_reset: float = 0.2,
    decay: float = 0.999996,
) -> DemoSegmentWrapper:
    """One training env of demo-state segments over previous-action envs of ``env_id``
    (``beta = 1``: actions uncoupled; goal envs keep their goal entries, e.g. for HER)."""
    factory = functools.partial(make_prev_action_env, env_id, beta)
    return DemoSegmentWrapper(
        factory, demos, seed=seed, segment_steps=segment_steps, episode_steps=episode_steps,
        p_demo=p_demo, p_reset=p_reset, decay=decay,
    )  # fmt: skip
