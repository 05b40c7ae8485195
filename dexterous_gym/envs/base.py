"""What every Dexterous Gym env shares: checked stepping, the state API, rendering, pickling."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from dexterous_gym.simulation import Simulation, check_state_vector

DEFAULT_SIZE = 500


class DexterousMujocoEnv(gym.Env):
    """Base class: a :class:`Simulation` plus the parts of the Gymnasium API that do not depend on
    the task.

    Subclasses set ``self.sim`` (via :meth:`_init_simulation`), ``observation_space`` and
    implement ``_get_obs``, ``_reward_and_info``, ``_task_state``/``_set_task_state`` (the
    task's part of the state vector, e.g. the goal) and ``reset``.
    """

    metadata = {"render_modes": ["human", "rgb_array", "depth_array"], "render_fps": 25}

    def _init_simulation(
        self,
        model: mujoco.MjModel,
        n_substeps: int,
        render_mode: str | None,
        width: int,
        height: int,
        camera: dict[str, Any],
        init_kwargs: dict[str, Any],
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        if int(n_substeps) < 1:
            raise ValueError(f"n_substeps must be a positive integer, got {n_substeps!r}")
        if int(width) < 1 or int(height) < 1:
            raise ValueError(f"width and height must be positive, got {width}x{height}")
        # The offscreen framebuffer must hold the requested frame (MuJoCo's default is 640x480).
        model.vis.global_.offwidth = int(width)
        model.vis.global_.offheight = int(height)
        self.sim = Simulation(model, n_substeps)
        self.model, self.data = self.sim.model, self.sim.data
        self.render_mode = render_mode
        self.width, self.height = int(width), int(height)
        self._camera = camera
        self._renderer = None
        self._init_kwargs = init_kwargs
        self._elapsed_steps = 0
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.dt)}
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(self.sim.n_actions,), dtype=np.float32)

    @property
    def dt(self) -> float:
        """Seconds of simulated time per env step (0.04 s: 20 substeps of 2 ms)."""
        return self.model.opt.timestep * self.sim.n_substeps

    # --- stepping -------------------------------------------------------------------------------

    def step(self, action):
        action = self.sim.validate_action(action)  # raises before touching the simulation
        diverged = self.sim.step(action)
        self._elapsed_steps += 1
        diverged = diverged or not self.sim.is_finite()
        obs = self._get_obs()
        reward, info = self._reward_and_info(obs)
        info["simulation_unstable"] = diverged
        if self.render_mode == "human":
            self.render()
        # An unstable simulation ends the episode (truncated) instead of returning garbage: MuJoCo
        # has already reset its data, so the observation is valid but not a continuation.
        return obs, reward, False, diverged, info

    def _settle(self, n_steps: int) -> bool:
        """Run zero-action env steps (ctrl at the range centres). False if MuJoCo diverged."""
        zero = np.zeros(self.sim.n_actions)
        return not any(self.sim.step(zero) for _ in range(n_steps))

    # --- state API ------------------------------------------------------------------------------

    @property
    def state_size(self) -> int:
        return self.sim.physics_state_size + self._task_state().shape[0] + 1

    def get_state(self) -> np.ndarray:
        """Everything that determines the future, as one flat float64 array.

        Layout: MuJoCo's integration state (time, qpos, qvel, act, warm start, ctrl, applied
        forces, mocap, user data; see ``mujoco.mjtState.mjSTATE_INTEGRATION``), then the task's
        part (the goal, if any), then the number of steps taken this episode.
        """
        return np.concatenate((self.sim.physics_state(), self._task_state(), [self._elapsed_steps]))

    def set_state(self, state) -> None:
        """Restore a vector from :meth:`get_state`. Wrong size or non-finite raises ValueError and
        leaves the env untouched. Stepping afterwards is bitwise identical to stepping the env the
        state was taken from."""
        state = check_state_vector(state, self.state_size)
        n_physics = self.sim.physics_state_size
        self._set_task_state(state[n_physics:-1])
        self.sim.set_physics_state(state[:n_physics])
        self._elapsed_steps = int(state[-1])

    def _task_state(self) -> np.ndarray:
        return np.zeros(0)

    def _set_task_state(self, task_state: np.ndarray) -> None:
        pass

    # --- rendering ------------------------------------------------------------------------------

    def render(self):
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; pass render_mode='rgb_array' "
                "(or 'human', 'depth_array') to gym.make."
            )
            return None
        if self._renderer is None:
            from gymnasium.envs.mujoco.mujoco_rendering import MujocoRenderer

            self._renderer = MujocoRenderer(
                self.model,
                self.data,
                default_cam_config=self._camera,
                width=self.width,
                height=self.height,
            )
        return self._renderer.render(self.render_mode)

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # --- pickling: the env is rebuilt from its arguments and its state restored ----------------

    def __getstate__(self):
        rng = self._np_random.bit_generator.state if self._np_random is not None else None
        return {
            "init_kwargs": self._init_kwargs,
            "state": self.get_state(),
            "rng": rng,
            "spec": self.spec,
        }

    def __setstate__(self, saved):
        self.__init__(**saved["init_kwargs"])
        self.set_state(saved["state"])
        if saved["rng"] is not None:
            rng = np.random.Generator(np.random.PCG64())
            rng.bit_generator.state = saved["rng"]
            self._np_random = rng
        self.spec = saved["spec"]
