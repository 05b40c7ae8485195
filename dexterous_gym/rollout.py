"""Exact batched rollouts from saved env states, on MuJoCo's multi-threaded ``mujoco.rollout``.

:class:`BatchedRollout` runs B action sequences of H env steps from one start state or B start
states (vectors from ``env.unwrapped.get_state()``) and returns per-step rewards, success flags,
achieved goals and final states, equal to what ``env.step`` gives for the same actions. Planners
(TOPDM, MPPI in ``baselines.topdm``) use only this.

How it maps onto ``mujoco.rollout`` (MuJoCo 3.11):

* ``Rollout.rollout`` takes initial states in ``mjSTATE_FULLPHYSICS`` layout (time, qpos, qvel,
  act, mocap, user data, plugin state) plus an optional ``initial_warmstart`` (``qacc_warmstart``).
  The env's physics state is ``mjSTATE_INTEGRATION`` (FULLPHYSICS + warm start + ctrl + applied
  forces); it is converted on a scratch ``MjData`` with ``mj_setState``/``mj_getState`` and the
  warm start is passed as ``initial_warmstart``, so every substep solves exactly as ``mj_step``
  in the env does: rewards, success and the rolled-out qpos/qvel are bitwise equal to
  ``env.step``.
* Controls are ``env.sim.ctrl_from_actions(actions)`` repeated ``n_substeps`` times per env step.
* The API records every physics substep (there is no stride); only every ``n_substeps``-th state
  is read, and the batch is processed in chunks so the substep buffer stays small.
* The recorded states carry no warm start, so the final states' ``qacc_warmstart`` is rebuilt:
  ``mj_step`` leaves it equal to the ``qacc`` solved before the last substep, and that solve is
  redone with ``mj_forward`` on the recorded pre-substep state (started from the start state's
  warm start, so it agrees only to the solver's tolerance). Everything else in the final state (time, qpos, qvel, act, ctrl, applied
  forces, goal, step count) is exact, and the rebuilt warm start differs from the env's by
  about 1e-3 at most (the solver converges to the same answer from either: stepping on from a
  returned final state matched the env bitwise in the tests' cases).
* Rewards, success and achieved goals come from the env's one reward function,
  :meth:`~dexterous_gym.envs.base.DexterousMujocoEnv.evaluate`, called once on the whole (B, H)
  batch; numpy rounds batched reductions differently from the single-vector call ``env.step``
  makes, so dense rewards agree to about 1e-17 (not bitwise); qpos, qvel, achieved goals and
  success are bitwise.
* The env's applied forces (``qfrc_applied``, ``xfrc_applied``) and ``eq_active`` are zero /
  defaults in every Dexterous Gym env; the per-thread ``MjData`` are kept at those defaults, and a
  start state with applied forces is refused.
* Divergence: when MuJoCo finds a bad qpos/qvel/qacc, ``mj_step`` resets the data and ``env.step``
  reports ``info["simulation_unstable"]`` and goes on from the reset state, while
  ``mujoco.rollout`` freezes the rest of the sequence. Every substep advances the time, so a
  sequence whose recorded time stops increasing (or whose qpos/qvel are not finite) is simulated
  again serially, exactly as ``env.step`` does: ``RolloutResult.unstable`` flags each (sequence,
  step) where ``env.step`` would report instability, and that sequence's rewards, success, terms
  and final state are those of ``env.step`` (final state bitwise, warm start included).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import mujoco
import mujoco.rollout
import numpy as np
from numpy.typing import ArrayLike

from dexterous_gym.envs.base import DexterousMujocoEnv
from dexterous_gym.simulation import STATE_SPEC, Simulation, StateLayout, state_slices
from dexterous_gym.validation import check_bool, check_int, real_array

FULLPHYSICS = mujoco.mjtState.mjSTATE_FULLPHYSICS
_CHUNK_BYTES = 32 * 2**20  # size of the per-substep state buffer of one chunk
MAX_THREADS = max(1024, os.cpu_count() or 1)


@dataclass
class RolloutResult:
    """What one :meth:`BatchedRollout.rollout` call returns (B sequences, H env steps).

    ``sparse_rewards``, ``success`` and ``achieved_goals`` are ``None`` for envs without a goal
    (PenSpin-v0); ``dense_rewards`` is then the env's own reward. ``dense_rewards`` is the shaped
    reward even for a sparse env (what planners optimise). ``terms`` holds the reward's named
    terms, as ``info`` of ``env.step`` does (``d_pos``, ``d_rot``, ...; PenSpin ``spin``,
    ``tilt``), each (B, H). ``unstable`` (B, H) is True where MuJoCo diverged during that step,
    as ``info["simulation_unstable"]`` of ``env.step``; the sequence then goes on from the state
    MuJoCo reset to, as ``env.step`` does.
    """

    dense_rewards: np.ndarray  # (B, H)
    sparse_rewards: np.ndarray | None  # (B, H), success - 1
    success: np.ndarray | None  # (B, H) of 0.0 / 1.0
    achieved_goals: np.ndarray | None  # (B, H, goal_dim)
    final_states: np.ndarray | None  # (B, state_size), get_state() layout
    terms: dict[str, np.ndarray] = field(default_factory=dict)  # each (B, H)
    unstable: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))  # (B, H)

    @property
    def rewards(self) -> np.ndarray:
        """Alias of ``dense_rewards`` (what TOPDM optimises)."""
        return self.dense_rewards


class BatchedRollout:
    """Batched, multi-threaded open-loop rollouts of one Dexterous Gym env.

    Build with :meth:`from_env`. The env passed in is only read (model, action mapping, reward
    functions); its own simulation is never stepped. Call :meth:`close` (or use ``with``) to stop
    the thread pool.
    """

    def __init__(self, env: gym.Env[Any, Any], n_threads: int | None = None) -> None:
        unwrapped = getattr(env, "unwrapped", None)
        if not isinstance(unwrapped, DexterousMujocoEnv):
            raise ValueError(
                f"env must be a Dexterous Gym env (a DexterousMujocoEnv), got {type(unwrapped).__name__}"
            )
        self.env: DexterousMujocoEnv[Any] = unwrapped
        sim = self.sim = unwrapped.sim
        self.model = sim.model
        self.n_substeps = sim.n_substeps
        self.n_threads = (
            check_int(n_threads, "n_threads", minimum=1, maximum=MAX_THREADS)
            if n_threads is not None
            else (os.cpu_count() or 1)
        )
        self.n_actions = sim.n_actions
        self.state_layout: StateLayout = unwrapped.state_layout
        self.state_size = self.state_layout.size
        self.n_physics = self.state_layout.physics_size
        self.n_full = mujoco.mj_stateSize(self.model, FULLPHYSICS)
        self.has_goal = unwrapped.has_goal
        self.goal_dim = self.state_layout.goal_size
        self._qpos_at = mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_TIME)
        self._qvel_at = self._qpos_at + self.model.nq
        self._scratch = mujoco.MjData(self.model)
        self._serial: Simulation | None = None  # replays diverged sequences as env.step does
        slices = state_slices(self.model)
        self._applied = (slices["qfrc_applied"], slices["xfrc_applied"])
        self._datas = [mujoco.MjData(self.model) for _ in range(self.n_threads)]
        self._pool = mujoco.rollout.Rollout(nthread=self.n_threads)

    @classmethod
    def from_env(
        cls, env_or_id: gym.Env[Any, Any] | str, n_threads: int | None = None
    ) -> BatchedRollout:
        """From an env instance (wrapped or not) or a registered ID such as ``"EggHandOver-v0"``."""
        if isinstance(env_or_id, str):
            try:
                env = gym.make(env_or_id)
            except gym.error.Error as err:
                raise ValueError(f"env_or_id: cannot make {env_or_id!r} ({err})") from None
            return cls(env, n_threads)
        return cls(env_or_id, n_threads)

    def close(self) -> None:
        """Stop the thread pool."""
        self._pool.close()

    def __enter__(self) -> BatchedRollout:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- input checks ---------------------------------------------------------------------------

    def _check_inputs(
        self, states_in: ArrayLike, actions_in: ArrayLike
    ) -> tuple[np.ndarray, np.ndarray]:
        actions = real_array(actions_in, "actions", f"an array of shape (B, H, {self.n_actions})")
        if actions.ndim != 3 or actions.shape[2] != self.n_actions or 0 in actions.shape[:2]:
            raise ValueError(
                f"actions must have shape (B, H, {self.n_actions}) with B, H >= 1, got {actions.shape}"
            )
        if not np.all(np.isfinite(actions)):
            raise ValueError("actions must be finite, got NaN or inf")
        states = real_array(states_in, "states", f"an array of shape (B, {self.state_size})")
        if states.ndim == 1:
            states = states[None]
        if states.ndim != 2 or states.shape[1] != self.state_size:
            raise ValueError(
                f"states must have shape ({self.state_size},) or (B, {self.state_size}) (from get_state()), got {states.shape}"
            )
        if states.shape[0] not in (1, actions.shape[0]):
            raise ValueError(
                f"states must hold 1 or B={actions.shape[0]} start states, got {states.shape[0]}"
            )
        if not np.all(np.isfinite(states)):
            raise ValueError("states must be finite, got NaN or inf")
        self.env.check_state_batch(states, "states")
        physics = self.state_layout.split(states).physics
        for part in self._applied:
            if np.any(physics[:, part] != 0.0):
                raise ValueError(
                    "states hold applied forces (qfrc_applied/xfrc_applied, entries "
                    f"{part.start}-{part.stop - 1}), which BatchedRollout does not simulate; "
                    "zero them or step the env instead"
                )
        return states, actions

    # --- state conversion -----------------------------------------------------------------------

    def _to_fullphysics(self, physics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(FULLPHYSICS states, qacc_warmstart) for INTEGRATION states of shape (S, n_physics)."""
        full = np.empty((physics.shape[0], self.n_full))
        warm = np.empty((physics.shape[0], self.model.nv))
        for i, state in enumerate(physics):
            mujoco.mj_setState(self.model, self._scratch, state, STATE_SPEC)
            mujoco.mj_getState(self.model, self._scratch, full[i], FULLPHYSICS)
            warm[i] = self._scratch.qacc_warmstart
        return full, warm

    def _final_physics(
        self, start: np.ndarray, penult: np.ndarray, full: np.ndarray, ctrl: np.ndarray
    ) -> np.ndarray:
        """INTEGRATION state from the start INTEGRATION state, the FULLPHYSICS states before and
        after the last substep, and the last ctrl. ``mj_step`` leaves ``qacc_warmstart`` equal to
        the ``qacc`` it solved at the pre-step state; that solve is redone here (from the start
        state's warm start, so it agrees to the solver tolerance)."""
        d = self._scratch
        mujoco.mj_setState(self.model, d, start, STATE_SPEC)
        mujoco.mj_setState(self.model, d, penult, FULLPHYSICS)
        d.ctrl[:] = ctrl
        mujoco.mj_forward(self.model, d)
        warm = d.qacc.copy()
        mujoco.mj_setState(self.model, d, full, FULLPHYSICS)
        d.qacc_warmstart[:] = warm
        out = np.empty(self.n_physics)
        mujoco.mj_getState(self.model, d, out, STATE_SPEC)
        return out

    # --- rollout --------------------------------------------------------------------------------

    def physics_rollout(
        self, full: np.ndarray, warm: np.ndarray, ctrl: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        """Raw ``mujoco.rollout`` call: FULLPHYSICS states recorded at every substep into ``out``."""
        self._pool.rollout(self.model, self._datas, full, ctrl, initial_warmstart=warm, state=out)
        return out

    def rollout(
        self, states: ArrayLike, actions: ArrayLike, final_states: bool = True
    ) -> RolloutResult:
        """Run ``actions`` (B, H, nu) from ``states`` ((state_size,) or (B, state_size)).

        ``final_states=False`` skips building the final states (``final_states`` is then None),
        which planners that only need scores can use to save one ``mj_forward`` per sequence.

        Raises ValueError naming the argument for wrong shapes, non-finite values or states that
        are not this env's (see ``env.check_state``), TypeError for values that are not numbers.
        """
        check_bool(final_states, "final_states")
        start, controls = self._check_inputs(states, actions)
        n_batch, horizon, _ = controls.shape
        n_sub = self.n_substeps
        full, warm = self._to_fullphysics(self.state_layout.split(start).physics)
        ctrl = self.sim.ctrl_from_actions(controls)  # (B, H, nu)
        chunk = max(1, min(n_batch, _CHUNK_BYTES // (8 * horizon * n_sub * self.n_full)))
        buffer = np.empty((chunk, horizon * n_sub, self.n_full))
        recorded = np.empty((n_batch, horizon, self.n_full))
        # the state before the last substep (for the final warm start)
        one_start = start.shape[0] == 1
        penult = full[np.zeros(n_batch, dtype=int) if one_start else slice(None)].copy()
        suspect = np.zeros(n_batch, dtype=bool)
        for lo in range(0, n_batch, chunk):
            hi = min(lo + chunk, n_batch)
            size = hi - lo
            idx = np.zeros(size, dtype=int) if one_start else np.arange(lo, hi)
            control = np.repeat(ctrl[lo:hi], n_sub, axis=1)
            out = buffer[:size]
            self.physics_rollout(full[idx], warm[idx], control, out)
            recorded[lo:hi] = out[:, n_sub - 1 :: n_sub]
            if horizon * n_sub > 1:
                penult[lo:hi] = out[:, -2]
            suspect[lo:hi] = self._diverged(full[idx, 0], out)
        unstable = np.zeros((n_batch, horizon), dtype=bool)
        exact_final: dict[int, np.ndarray] = {}
        for b in map(int, np.flatnonzero(suspect)):
            s = 0 if one_start else b
            unstable[b], exact_final[b] = self._replay(
                self.state_layout.split(start[s]).physics, controls[b], recorded[b]
            )
        result = self._evaluate(start, recorded, penult, ctrl[:, -1], final_states, exact_final)
        result.unstable = unstable
        return result

    def _diverged(self, start_time: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Sequences of a chunk where ``mujoco.rollout`` met a divergence (it then freezes)."""
        times = np.concatenate([start_time[:, None], out[:, :, 0]], axis=1)
        frozen = ~np.all(np.diff(times, axis=1) > 0, axis=1)
        if out.shape[1] == 1:  # one substep from time 0: a reset would also show time = dt
            frozen |= start_time == 0
        q = slice(self._qpos_at, self._qvel_at + self.model.nv)
        return frozen | ~np.all(np.isfinite(out[:, :, q]), axis=(1, 2))

    def _replay(
        self, physics: np.ndarray, actions: np.ndarray, recorded: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Simulate one sequence step by step as ``env.step`` does, into ``recorded`` (H, n_full).

        Returns the per-step instability flags and the exact final physics state.
        """
        if self._serial is None:
            self._serial = Simulation(self.model, self.n_substeps)
        sim = self._serial
        sim.set_physics_state(physics)
        flags = np.zeros(actions.shape[0], dtype=bool)
        for h, action in enumerate(actions):
            flags[h] = sim.step(action) or not sim.is_finite()
            mujoco.mj_getState(self.model, sim.data, recorded[h], FULLPHYSICS)
        return flags, sim.physics_state()

    def _evaluate(
        self,
        states: np.ndarray,
        recorded: np.ndarray,
        penult: np.ndarray,
        last_ctrl: np.ndarray,
        with_final: bool,
        exact_final: dict[int, np.ndarray] | None = None,
    ) -> RolloutResult:
        """Rewards, success and achieved goals from the env's reward function; final states."""
        n_batch, horizon = recorded.shape[:2]
        nq, nv = self.model.nq, self.model.nv
        qpos = recorded[..., self._qpos_at : self._qpos_at + nq]
        qvel = recorded[..., self._qvel_at : self._qvel_at + nv]
        start = self.state_layout.split(states)
        evaluation = self.env.evaluate(qpos, qvel, start.goal[:, None, :])
        dense = np.asarray(evaluation.dense_reward, dtype=np.float64)
        success = sparse = None
        if evaluation.success is not None:
            success = np.asarray(evaluation.success, dtype=np.float64)
            sparse = success - 1.0
        result = RolloutResult(
            dense, sparse, success, evaluation.achieved_goal, None, dict(evaluation.terms)
        )
        if not with_final:
            return result
        one_start = states.shape[0] == 1
        final_physics = np.empty((n_batch, self.n_physics))
        exact_final = exact_final or {}
        for b in range(n_batch):
            if b in exact_final:
                final_physics[b] = exact_final[b]
                continue
            s = 0 if one_start else b
            final_physics[b] = self._final_physics(
                start.physics[s], penult[b], recorded[b, -1], last_ctrl[b]
            )
        result.final_states = self.state_layout.join(
            final_physics, start.goal, start.step_count + horizon
        )
        return result
