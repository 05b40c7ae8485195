"""What every Dexterous Gym env shares: the env contract, checked stepping, resets, the state API,
rendering and pickling."""

from __future__ import annotations

import atexit
import weakref
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import mujoco
import numpy as np
from numpy.typing import ArrayLike

from dexterous_gym.scenes import FreeCamera, scene_of_tag
from dexterous_gym.simulation import (
    PhysicsBounds,
    Simulation,
    StateLayout,
    StateProblem,
    check_state_vector,
    state_problems,
)
from dexterous_gym.validation import check_int, describe

DEFAULT_SIZE = 500  # default render width and height, as the original

# Envs holding an OpenGL context, closed at exit while the GL library still works: contexts freed
# later, by the garbage collector after MuJoCo's EGL module has terminated its display, print
# tracebacks. The hook is registered after the first frame, i.e. after MuJoCo's own exit hook, so
# it runs before it (exit hooks run last-in, first-out).
_OPEN_RENDERING_ENVS: weakref.WeakSet[DexterousMujocoEnv[Any]] = weakref.WeakSet()
_exit_hook_registered = False


def _close_rendering_envs() -> None:
    for env in list(_OPEN_RENDERING_ENVS):
        env.close()


def _register_exit_hook() -> None:
    global _exit_hook_registered
    if not _exit_hook_registered:
        atexit.register(_close_rendering_envs)
        _exit_hook_registered = True


SETTLE_STEPS = 10  # zero-action env steps that let a standard reset come to rest, as the original
RESET_OPTIONS = ("state", "keep_step_count")
MAX_FRAME_SIZE = 8192  # pixels per side of a rendered frame
MAX_SUBSTEPS = 10_000  # physics steps per env step

ObsT = TypeVar("ObsT")


def constructor_arguments(local_vars: dict[str, Any]) -> dict[str, Any]:
    """The arguments an env's ``__init__`` was called with, from its ``locals()`` on entry: what
    pickling rebuilds the env from."""
    return {k: v for k, v in local_vars.items() if k not in ("self", "__class__")}


@dataclass(frozen=True)
class Evaluation:
    """What an env's reward function says about states of any leading batch shape ``(...)``.

    :meth:`DexterousMujocoEnv.evaluate` returns it; ``step``, ``compute_reward`` and the batched
    rollouts all read their rewards, success flags and ``info`` terms from it.
    """

    reward: np.ndarray  # (...): the env's reward (for goal envs, per its reward_type)
    dense_reward: np.ndarray  # (...): the shaped reward; equals `reward` unless that is sparse
    success: np.ndarray | None  # (...) of 1.0 / 0.0; None for envs without a goal
    achieved_goal: np.ndarray | None  # (..., goal_size); None for envs without a goal
    terms: dict[str, np.ndarray]  # the named terms the reward is computed from, each (...)

    def info(self) -> dict[str, Any]:
        """The step ``info`` of one unbatched evaluation: ``is_success`` (goal envs) and the
        named terms, as Python floats."""
        info: dict[str, Any] = {} if self.success is None else {"is_success": float(self.success)}
        info.update((name, float(value)) for name, value in self.terms.items())
        return info


class DexterousMujocoEnv(gym.Env[ObsT, np.ndarray]):
    """Base class and env contract: a :class:`Simulation`, a goal (possibly empty) and the parts of
    the Gymnasium API that do not depend on the task.

    The contract that :class:`dexterous_gym.rollout.BatchedRollout` relies on is ``sim``,
    ``state_layout``, ``has_goal`` and :meth:`evaluate`. Subclasses call
    :meth:`_init_simulation`, set ``observation_space`` and implement :meth:`evaluate`,
    :meth:`_get_obs` and :meth:`_reset_simulation` (one attempt at a random start state);
    goal envs also override :meth:`_sample_goal` and :meth:`_show_goal`.
    """

    metadata: dict[str, Any] = {
        "render_modes": ["human", "rgb_array", "depth_array"],
        "render_fps": 25,
    }
    has_goal: ClassVar[bool] = False
    max_reset_tries: ClassVar[int] = 10  # random start states tried before reset gives up

    sim: Simulation
    model: mujoco.MjModel
    data: mujoco.MjData
    goal: np.ndarray  # the desired goal, part of the state; empty for envs without a goal
    state_layout: StateLayout
    max_episode_steps: int  # the task's episode length (gym.make's TimeLimit by default)

    def _init_simulation(
        self,
        *,
        model: mujoco.MjModel,
        scene: str,
        camera: FreeCamera,
        n_substeps: int,
        goal_size: int,
        render_mode: str | None,
        width: int,
        height: int,
        init_kwargs: dict[str, Any],
    ) -> None:
        """Build the simulation of ``model`` (the compiled ``scene``, rendered from ``camera``),
        the goal, the state layout and the action space, after checking the constructor
        arguments shared by every env; ``init_kwargs`` are what pickling rebuilds the env from."""
        if render_mode is not None and (
            not isinstance(render_mode, str) or render_mode not in self.metadata["render_modes"]
        ):
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        n_substeps = check_int(n_substeps, "n_substeps", minimum=1, maximum=MAX_SUBSTEPS)
        width = check_int(width, "width", minimum=1, maximum=MAX_FRAME_SIZE)
        height = check_int(height, "height", minimum=1, maximum=MAX_FRAME_SIZE)
        # The offscreen framebuffer must hold the requested frame (MuJoCo's default is 640x480).
        model.vis.global_.offwidth = int(width)
        model.vis.global_.offheight = int(height)
        self.sim = Simulation(model, n_substeps)
        self.model, self.data = self.sim.model, self.sim.data
        self.goal = np.zeros(goal_size)
        self._has_episode = False  # True after reset() or set_state(): a goal has been set
        self.state_layout = StateLayout(self.sim.physics_state_size, goal_size, scene)
        self.render_mode = render_mode
        self.width, self.height = int(width), int(height)
        self._camera = camera
        self._renderer: Any = None
        self._init_kwargs = init_kwargs
        self._elapsed_steps = 0
        self._truncate_at: int | None = None  # see truncate_episode_at
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.dt)}
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(self.sim.n_actions,), dtype=np.float32)
        self._physics_bounds = PhysicsBounds.of_model(model)  # what check_state tests against

    @property
    def env_label(self) -> str:
        """The env's ID (or class name) for messages."""
        spec = getattr(self, "spec", None)
        return spec.id if spec is not None else type(self).__name__

    @property
    def elapsed_steps(self) -> int:
        """Env steps taken this episode (the step count stored in :meth:`get_state` vectors)."""
        return self._elapsed_steps

    def truncate_episode_at(self, step_count: int | None) -> None:
        """End this episode (``truncated``) at the step that brings :attr:`elapsed_steps` to
        ``step_count``, counting restored step counts (:meth:`set_state`); None: never.

        The env's step count is the one clock of its episodes: ``gym.make``'s time limit
        (:class:`~dexterous_gym.envs.time_limit.StepCountTimeLimit`) calls this after each
        reset with its ``max_episode_steps``; ``reset(options={"state": s, "keep_step_count":
        True})`` sets the episode length itself. Every other reset clears it.
        """
        self._truncate_at = (
            None if step_count is None else check_int(step_count, "step_count", minimum=1)
        )

    @property
    def dt(self) -> float:
        """Seconds of simulated time per env step (0.04 s: 20 substeps of 2 ms)."""
        return float(self.model.opt.timestep * self.sim.n_substeps)

    # --- the reward function: one for step, compute_reward and batched rollouts ---------------

    def evaluate(self, qpos: np.ndarray, qvel: np.ndarray, goal: np.ndarray) -> Evaluation:
        """Reward, success, achieved goal and named reward terms of post-step states.

        ``qpos`` (..., nq) and ``qvel`` (..., nv) may have any leading batch shape; ``goal``
        (..., goal_size) broadcasts against it. ``step`` calls this on the env's own state,
        :class:`~dexterous_gym.rollout.BatchedRollout` on whole (B, H) batches.
        """
        raise NotImplementedError

    # --- stepping -------------------------------------------------------------------------------

    def step(self, action: ArrayLike) -> tuple[ObsT, float, bool, bool, dict[str, Any]]:
        """One env step. ``info`` holds ``is_success`` (goal envs), the reward's named terms and
        ``simulation_unstable``; see the class docstring for each env's keys."""
        action = self.sim.validate_action(action)  # raises before touching the simulation
        diverged = self.sim.step(action)
        self._elapsed_steps += 1
        diverged = diverged or not self.sim.is_finite()
        obs = self._get_obs()
        evaluation = self.evaluate(self.data.qpos, self.data.qvel, self.goal)
        info = evaluation.info()
        info["simulation_unstable"] = diverged
        if self.render_mode == "human":
            self.render()
        # An unstable simulation ends the episode (truncated) instead of returning garbage: MuJoCo
        # has already reset its data, so the observation is valid but not a continuation.
        out_of_time = self._truncate_at is not None and self._elapsed_steps >= self._truncate_at
        return obs, float(evaluation.reward), False, diverged or out_of_time, info

    def _get_obs(self) -> ObsT:
        raise NotImplementedError

    def _settle(self, n_steps: int) -> bool:
        """Run zero-action env steps (ctrl at the range centres). False if MuJoCo diverged."""
        zero = np.zeros(self.sim.n_actions)
        return not any(self.sim.step(zero) for _ in range(n_steps))

    # --- reset ----------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsT, dict[str, Any]]:
        """Start an episode: from a random start state, or from ``options["state"]``.

        Without options: the task's random start (see the class docstring), then a new goal.

        ``options={"state": s}`` starts from ``s``, a :meth:`get_state` vector (goal included),
        exactly as :meth:`set_state` restores it, and returns its observation and info. The step
        count restarts at 0, as gym.make's TimeLimit does at every reset; with
        ``"keep_step_count": True`` the episode keeps the count stored in ``s`` and the env
        truncates it once that count reaches the episode length (``gym.make``'s
        ``max_episode_steps``, else :attr:`max_episode_steps`), so the episode ends where
        the one ``s`` came from would have (:meth:`truncate_episode_at`). ``seed`` seeds the env's
        random stream either way; a start from a state draws nothing from it.

        Unknown option keys and bad states raise ValueError (a seed that is not a non-negative
        integer or None: TypeError/ValueError) before anything changes.
        """
        if seed is not None:
            check_int(seed, "seed", minimum=0)
        start_state, keep_step_count = self._parse_reset_options(options)
        super().reset(seed=seed)
        if start_state is None:
            self._start_random_episode()
        else:
            self.set_state(start_state)
            if not keep_step_count:
                self._elapsed_steps = 0
        self.truncate_episode_at(self._episode_length() if keep_step_count else None)
        obs = self._get_obs()
        if self.render_mode == "human":
            self.render()
        return obs, self._reset_info()

    def _episode_length(self) -> int:
        """The episode length: the spec's ``max_episode_steps`` if it has one, else the task's
        (``gym.make``'s time limit then sets its own, :meth:`truncate_episode_at`)."""
        spec = getattr(self, "spec", None)
        length = getattr(spec, "max_episode_steps", None)
        return int(length) if length else self.max_episode_steps

    def _parse_reset_options(
        self, options: dict[str, Any] | None
    ) -> tuple[np.ndarray | None, bool]:
        if options is None:
            return None, False
        if not isinstance(options, dict):
            raise TypeError(f"options must be a dict such as {{'state': s}} or None, got {describe(options)}")  # fmt: skip
        unknown = sorted(set(options) - set(RESET_OPTIONS), key=str)
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {unknown}; the options are {list(RESET_OPTIONS)}"
            )
        keep_step_count = options.get("keep_step_count", False)
        if not isinstance(keep_step_count, (bool, np.bool_)):
            raise ValueError(f"keep_step_count must be True or False, got {keep_step_count!r}")
        if "state" not in options:
            if keep_step_count:
                raise ValueError("keep_step_count needs a 'state' option to take the count from")
            return None, False
        state = self.check_state(options["state"], name="options['state']")
        return state, bool(keep_step_count)

    def _start_random_episode(self) -> None:
        for _ in range(self.max_reset_tries):
            if self._reset_simulation():
                break
        else:
            raise RuntimeError(
                f"{type(self).__name__}: no valid start state in {self.max_reset_tries} resets in a "
                "row (the simulation diverged or the start was rejected)"
            )
        self._elapsed_steps = 0
        self.goal = self._sample_goal()
        self._show_goal()
        self._has_episode = True

    def _reset_simulation(self) -> bool:
        """One attempt at a random start state; False if it must be retried."""
        raise NotImplementedError

    def _sample_goal(self) -> np.ndarray:
        return np.zeros(0)

    def _show_goal(self) -> None:
        """Make the goal visible in the scene (goal envs)."""

    def _reset_info(self) -> dict[str, Any]:
        success = self.evaluate(self.data.qpos, self.data.qvel, self.goal).success
        return {} if success is None else {"is_success": float(success)}

    # --- state API ------------------------------------------------------------------------------

    @property
    def state_size(self) -> int:
        """Length of a :meth:`get_state` vector."""
        return self.state_layout.size

    def get_state(self) -> np.ndarray:
        """Everything that determines the future, as one flat float64 array.

        Layout (see :attr:`state_layout`, whose ``split`` returns the parts): MuJoCo's
        integration state (time, qpos, qvel, act, warm start, ctrl, applied forces, mocap, user
        data; see ``mujoco.mjtState.mjSTATE_INTEGRATION``), then the goal (empty without one),
        then the number of steps taken this episode, then the model tag of the env's scene (an
        integer below 2**31 computed from the scene's name, ``state_layout.model_tag``), so that
        a state names the model it belongs to.
        """
        return self.state_layout.join(self.sim.physics_state(), self.goal, self._elapsed_steps)

    def set_state(self, state: ArrayLike) -> None:
        """Restore a vector from :meth:`get_state`. A state that fails :meth:`check_state` raises
        ValueError (TypeError if it is not numbers) and leaves the env untouched. Stepping
        afterwards is bitwise identical to stepping the env the state was taken from; gym.make's
        time limit follows the restored step count."""
        parts = self.state_layout.split(self.check_state(state))
        self.goal = parts.goal.copy()
        self.sim.set_physics_state(parts.physics)
        self._has_episode = True
        self._elapsed_steps = int(parts.step_count)

    def check_state(self, state: ArrayLike, name: str = "state") -> np.ndarray:
        """``state`` as a float64 vector if it can be a :meth:`get_state` vector of this env.

        Checked: a flat array of real numbers of :attr:`state_size`, all finite; the model tag of
        this env's scene in the last entry; a step count that is an integer in [0, 2**31]; a time
        >= 0; unit quaternions (to 1e-6) in every free joint (objects and targets); controls
        inside the actuators' control ranges; and, for goal envs, unit goal quaternions and goal
        positions inside the env's goal boxes. A state of another env is refused: envs of other
        families differ in size or goal boxes, and envs of another object of the same family
        (EggHandOver vs BlockHandOver), or PenSpin vs PenReorientation, differ in their model tag;
        the message names the scene the state is from. Dense and sparse variants of a task share
        their scene, so their states are accepted by each other. ValueError names the first
        failed check (:func:`~dexterous_gym.simulation.state_problems` lists the model's).
        """
        array = check_state_vector(state, self.state_layout, name=name)
        self.check_state_batch(array[None], name=name, batched=False)
        return array

    def check_state_batch(self, states: np.ndarray, name: str = "states", batched: bool = True) -> None:  # fmt: skip
        """:meth:`check_state`'s model checks on finite float64 states of shape (n, state_size)."""
        layout = self.state_layout
        parts = layout.split(states)
        foreign = np.flatnonzero(parts.model_tag != layout.model_tag)
        if foreign.size:
            index = int(foreign[0])
            where = f"{name}[{index}]" if batched else name
            tag = float(parts.model_tag[index])
            scene = scene_of_tag(tag)
            origin = (
                f"a state of the {scene} scene"
                if scene is not None
                else f"not a state of any known scene (model tag {tag!r}, the last entry)"
            )
            raise ValueError(
                f"{where} is {origin}, not of {self.env_label}'s {layout.scene} scene "
                f"(model tag {layout.model_tag}); states come from this env's get_state()"
            )
        problems = state_problems(parts, layout, self._physics_bounds)
        problems.extend(self._goal_problems(parts.goal))
        for bad, what in problems:
            if np.any(bad):
                index = int(np.flatnonzero(bad)[0])
                where = f"{name}[{index}]" if batched else name
                raise ValueError(
                    f"{where} is not a state of {self.env_label}: {what}; is it from another env "
                    "or damaged? (states come from this env's get_state())"
                )

    def _goal_problems(self, goals: np.ndarray) -> list[StateProblem]:
        """(bad mask, message) pairs for goals of shape (n, goal_size); goal envs override."""
        return []

    # --- rendering ------------------------------------------------------------------------------

    def render(self) -> np.ndarray | None:
        """A frame in the env's render_mode (None for "human", which draws a window)."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; pass render_mode='rgb_array' "
                "(or 'human', 'depth_array') to gym.make."
            )
            return None
        if self._renderer is None:
            from gymnasium.envs.mujoco.mujoco_rendering import MujocoRenderer

            from dexterous_gym.startup import check_render_backend

            check_render_backend()

            _OPEN_RENDERING_ENVS.add(self)
            self._renderer = MujocoRenderer(
                self.model,
                self.data,
                default_cam_config=self._camera.config(),
                width=self.width,
                height=self.height,
            )
        frame = self._renderer.render(self.render_mode)
        _register_exit_hook()
        return frame

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # --- pickling: the env is rebuilt from its arguments and its state restored ----------------

    def __getstate__(self) -> dict[str, Any]:
        rng = self._np_random.bit_generator.state if self._np_random is not None else None
        # the spaces travel whole, with their own random streams (action_space.sample())
        spaces = {"action_space": self.action_space, "observation_space": self.observation_space}
        return {
            "init_kwargs": self._init_kwargs,
            # a never-reset env has no goal yet (its zero goal is no valid state): nothing to restore
            "state": self.get_state() if self._has_episode else None,
            "rng": rng,
            "spaces": spaces,
            "spec": self.spec,
            "truncate_at": self._truncate_at,
        }

    def __setstate__(self, saved: dict[str, Any]) -> None:
        type(self).__init__(self, **saved["init_kwargs"])
        self.spec = saved["spec"]  # first: messages name the env's ID
        if saved["state"] is not None:
            self.set_state(saved["state"])
        if saved["rng"] is not None:
            rng = np.random.Generator(np.random.PCG64())
            rng.bit_generator.state = saved["rng"]
            self._np_random = rng
        self._truncate_at = saved.get("truncate_at")
        for key, space in saved.get("spaces", {}).items():
            setattr(self, key, space)
