"""The neural-network heuristic of the FSM swarm, without torch.

Charlesworth & Turner (PNAS 2019) and Charlesworth's talk on FSM ("Can we do this without a full
search of future states?") train a network on trajectories of the full FSM model to predict, from
the previous and the current visual sensor states only, the probability of each of the five
moves. This module runs such a network, a multilayer perceptron with ReLU hidden layers and a
softmax output, in numba: :class:`HeuristicPolicy` loads its weights and maps visual states to
move probabilities and moves, and ``FSMSwarm(policy="heuristic")`` flies a swarm with it.

**Weights file** (``.npz``, ``format_version`` 1): arrays ``w0, b0, w1, b1, ..., w{L}, b{L}``
(float32; ``w_k`` of shape (inputs, outputs), inputs of ``w0`` = 2 n_s, outputs of the last = 5)
and ``meta``, a 0-d unicode array holding JSON with at least ``format_version``, ``n_sensors``,
``hidden`` (the widths) and ``activation`` (``"relu"``). The input is [previous bits, current bits]
as 0/1, bit k = sensor k. The package ships one network per FSM model, each trained on the
reference swarm (N = 50, tau = 4) of that model, :data:`SHIPPED_WEIGHTS`; ``FSMSwarm(...,
policy="heuristic")`` takes the one of its ``model``.

**Moves.** By default (``greedy=True``) the agent takes the most probable move (lowest index on
exact ties); with ``greedy=False`` a move is drawn from the predicted probabilities with the
agent's pre-drawn tie uniform (inverse CDF). Either way the swarm's random stream is the same as
the FSM's and a seed fixes the run. (Sampling makes the flock disperse: see docs/swarm.md.) Every
agent's output is computed by its own loop in a fixed order, so results do not depend on the
number of numba threads.
"""

from __future__ import annotations

import json
import math
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit, prange

from swarm_gym.forksafe import fork_safe
from swarm_gym.interrupts import deferred_interrupts

FORMAT_VERSION = 1
N_MOVES = 5


#: The shipped weights (package data) of each FSM model.
SHIPPED_WEIGHTS = {
    "discrete": "heuristic_fsm_n50_tau4.npz",
    "continuous": "heuristic_fsm_continuous_n50_tau4.npz",
}
#: The shipped weights of the default (discrete) model.
DEFAULT_WEIGHTS = SHIPPED_WEIGHTS["discrete"]

_JIT: dict[str, Any] = {"cache": True, "error_model": "numpy", "nogil": True}


@fork_safe
@njit(parallel=True, **_JIT)
def _first_layer(keys_prev: np.ndarray, keys_cur: np.ndarray, n_s: int, w: np.ndarray,
                 b: np.ndarray) -> np.ndarray:  # fmt: skip
    """ReLU(x @ w + b) for binary x = [bits of keys_prev, bits of keys_cur]: sums of rows of w."""
    n = keys_cur.shape[0]
    width = w.shape[1]
    out = np.empty((n, width))
    for i in prange(n):
        acc = np.empty(width)
        for h in range(width):
            acc[h] = b[h]
        for half in range(2):
            key = keys_prev[i] if half == 0 else keys_cur[i]
            for k in range(n_s):
                if (key >> k) & 1:
                    row = half * n_s + k
                    for h in range(width):
                        acc[h] += w[row, h]
        for h in range(width):
            out[i, h] = acc[h] if acc[h] > 0.0 else 0.0
    return out


@fork_safe
@njit(parallel=True, **_JIT)
def _dense(x: np.ndarray, w: np.ndarray, b: np.ndarray, relu: bool) -> np.ndarray:
    """x @ w + b (ReLU if ``relu``), one row per task, summed in index order."""
    n, m = x.shape
    width = w.shape[1]
    out = np.empty((n, width))
    for i in prange(n):
        acc = np.empty(width)
        for h in range(width):
            acc[h] = b[h]
        for k in range(m):
            xk = x[i, k]
            if xk != 0.0:
                for h in range(width):
                    acc[h] += xk * w[k, h]
        for h in range(width):
            out[i, h] = acc[h] if (not relu or acc[h] > 0.0) else 0.0
    return out


@njit(**_JIT)
def _softmax_moves(
    logits: np.ndarray, uniforms: np.ndarray, greedy: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax, and the move per row: inverse CDF at the uniform, or the argmax."""
    n, m = logits.shape
    probs = np.empty((n, m))
    moves = np.empty(n, dtype=np.int64)
    for i in range(n):
        top = logits[i, 0]
        best = 0
        for a in range(1, m):
            if logits[i, a] > top:
                top = logits[i, a]
                best = a
        tot = 0.0
        for a in range(m):
            probs[i, a] = math.exp(logits[i, a] - top)
            tot += probs[i, a]
        for a in range(m):
            probs[i, a] /= tot
        if greedy:
            moves[i] = best
        else:
            moves[i] = m - 1
            cum = 0.0
            for a in range(m):
                cum += probs[i, a]
                if uniforms[i] < cum:
                    moves[i] = a
                    break
    return probs, moves


class HeuristicPolicy:
    """An MLP from [previous, current] visual states to move probabilities (see the module).

    Build it with :meth:`load` (a weights file) or :meth:`from_arrays`.

    Attributes:
        weights, biases: the layers (float64 copies of the file's float32 arrays).
        n_sensors: n_s (the input has 2 n_s bits).
        greedy: take the most probable move instead of sampling.
        meta: the file's metadata (training data, agreement scores ...).
    """

    def __init__(
        self,
        weights: list[np.ndarray],
        biases: list[np.ndarray],
        n_sensors: int,
        meta: dict[str, Any] | None = None,
        greedy: bool = True,
    ) -> None:
        _check_layers(weights, biases, n_sensors, "weights")
        self.weights = [np.ascontiguousarray(w, dtype=np.float64) for w in weights]
        self.biases = [np.ascontiguousarray(b, dtype=np.float64) for b in biases]
        self.n_sensors = int(n_sensors)
        self.greedy = bool(greedy)
        self.meta: dict[str, Any] = dict(meta or {})

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], greedy: bool = True,
                    source: str = "weights") -> HeuristicPolicy:  # fmt: skip
        """A policy from the arrays of a weights file (``w0``, ``b0``, ..., ``meta``)."""
        if "meta" not in arrays:
            raise ValueError(f"{source}: no 'meta' array; expected a heuristic weights file")
        try:
            meta = json.loads(str(arrays["meta"]))
        except json.JSONDecodeError as err:
            raise ValueError(f"{source}: 'meta' is not JSON ({err})") from None
        if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
            got = meta.get("format_version") if isinstance(meta, dict) else meta
            raise ValueError(f"{source}: expected format_version {FORMAT_VERSION}, got {got!r}")
        if meta.get("activation", "relu") != "relu":
            raise ValueError(f"{source}: activation must be 'relu', got {meta['activation']!r}")
        n_s = meta.get("n_sensors")
        if isinstance(n_s, bool) or not isinstance(n_s, int) or not 1 <= n_s <= 63:
            raise ValueError(f"{source}: meta n_sensors must be an int in 1..63, got {n_s!r}")
        n_layers = sum(1 for k in arrays if k.startswith("w"))
        weights, biases = [], []
        for k in range(n_layers):
            if f"w{k}" not in arrays or f"b{k}" not in arrays:
                raise ValueError(f"{source}: layer {k} needs arrays w{k} and b{k}")
            weights.append(np.asarray(arrays[f"w{k}"]))
            biases.append(np.asarray(arrays[f"b{k}"]))
        _check_layers(weights, biases, n_s, source)
        return cls(weights, biases, n_s, meta, greedy)

    @classmethod
    def load(cls, path: str | Path | None = None, greedy: bool = True,
             model: str = "discrete") -> HeuristicPolicy:  # fmt: skip
        """Read a weights file (None: the shipped weights of ``model``, :data:`SHIPPED_WEIGHTS`).

        Raises:
            ValueError: naming the file, if it is missing, not an ``.npz`` of this format, or
                its layers do not fit together.
        """
        if path is None:
            if model not in SHIPPED_WEIGHTS:
                raise ValueError(f"model must be one of {list(SHIPPED_WEIGHTS)}, got {model!r}")
            ref = resources.files("swarm_gym") / "data" / SHIPPED_WEIGHTS[model]
            with resources.as_file(ref) as real:
                return cls.load(real, greedy)
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"weights file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise ValueError(f"weights file {path} is not a readable .npz ({err})") from None
        return cls.from_arrays(arrays, greedy, source=f"weights file {path}")

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of a weights file (float32 layers, ``meta`` JSON)."""
        out: dict[str, np.ndarray] = {}
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            out[f"w{k}"] = w.astype(np.float32)
            out[f"b{k}"] = b.astype(np.float32)
        meta = {**self.meta, "format_version": FORMAT_VERSION, "n_sensors": self.n_sensors,
                "activation": "relu", "hidden": [w.shape[1] for w in self.weights[:-1]]}  # fmt: skip
        out["meta"] = np.array(json.dumps(meta, sort_keys=True))
        return out

    def logits_from_keys(self, prev_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """(N, 5) logits from (N,) packed previous and current visual states."""
        prev = np.ascontiguousarray(prev_keys, dtype=np.int64)
        cur = np.ascontiguousarray(keys, dtype=np.int64)
        if prev.shape != cur.shape or cur.ndim != 1:
            raise ValueError(f"prev_keys and keys must both have shape (N,), got {prev.shape} "
                             f"and {cur.shape}")  # fmt: skip
        h = _first_layer(prev, cur, self.n_sensors, self.weights[0], self.biases[0])
        last = len(self.weights) - 1
        if last == 0:  # no hidden layer: undo the ReLU of the first-layer kernel
            raise ValueError("a heuristic needs at least one hidden layer")
        for k in range(1, last + 1):
            h = _dense(h, self.weights[k], self.biases[k], k < last)
        return h

    def probabilities(self, bits: np.ndarray) -> np.ndarray:
        """(S, 5) move probabilities from (S, 2 n_s) 0/1 inputs [previous, current]."""
        bits = np.asarray(bits)
        n_s = self.n_sensors
        if bits.ndim != 2 or bits.shape[1] != 2 * n_s:
            raise ValueError(f"bits must have shape (S, {2 * n_s}), got {bits.shape}")
        place = np.int64(1) << np.arange(n_s, dtype=np.int64)
        on = (bits != 0).astype(np.int64)
        prev = on[:, :n_s] @ place
        cur = on[:, n_s:] @ place
        logits = self.logits_from_keys(prev, cur)
        with deferred_interrupts():
            probs, _ = _softmax_moves(logits, np.zeros(len(cur)), True)
        return probs

    def act(
        self, prev_keys: np.ndarray, keys: np.ndarray, uniforms: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Moves (N,) int64 and probabilities (N, 5) from packed states and one uniform each."""
        logits = self.logits_from_keys(prev_keys, keys)
        u = np.ascontiguousarray(uniforms, dtype=np.float64)
        with deferred_interrupts():
            probs, moves = _softmax_moves(logits, u, self.greedy)
        return moves, probs

    def __repr__(self) -> str:
        widths = [w.shape[1] for w in self.weights[:-1]]
        return f"HeuristicPolicy(n_sensors={self.n_sensors}, hidden={widths}, greedy={self.greedy})"


def _check_layers(weights: list[np.ndarray], biases: list[np.ndarray], n_s: int,
                  source: str) -> None:  # fmt: skip
    if len(weights) < 2 or len(weights) != len(biases):
        raise ValueError(f"{source}: expected >= 2 layers with one bias each, got "
                         f"{len(weights)} weight and {len(biases)} bias arrays")  # fmt: skip
    inputs = 2 * n_s
    for k, (w, b) in enumerate(zip(weights, biases, strict=True)):
        if w.ndim != 2 or w.shape[0] != inputs:
            raise ValueError(f"{source}: w{k} must have shape ({inputs}, width), got {w.shape}")
        if b.shape != (w.shape[1],):
            raise ValueError(f"{source}: b{k} must have shape ({w.shape[1]},), got {b.shape}")
        if w.dtype.kind != "f" or b.dtype.kind != "f":
            raise ValueError(f"{source}: layer {k} must be floating point, got {w.dtype}")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ValueError(f"{source}: layer {k} holds NaN or infinite values")
        inputs = w.shape[1]
    if inputs != N_MOVES:
        raise ValueError(f"{source}: the last layer must have {N_MOVES} outputs, got {inputs}")


def resolve_policy(policy: Any, weights: str | Path | None, n_sensors: int,
                   model: str = "discrete") -> HeuristicPolicy:  # fmt: skip
    """The :class:`HeuristicPolicy` meant by ``policy`` (``"heuristic"``: ``weights``, or the
    shipped weights of ``model``; or an instance)."""
    if isinstance(policy, HeuristicPolicy):
        if weights is not None:
            raise ValueError("pass weights only with policy='heuristic', not with a policy object")
        pol = policy
    elif policy == "heuristic":
        pol = HeuristicPolicy.load(weights, model=model)
    else:
        raise ValueError(f"policy must be 'fsm', 'heuristic' or a HeuristicPolicy, got {policy!r}")
    if pol.n_sensors != n_sensors:
        raise ValueError(f"the heuristic's weights are for n_sensors={pol.n_sensors}, but the "
                         f"swarm has n_sensors={n_sensors}")  # fmt: skip
    trained_on = pol.meta.get("model", "discrete")  # weights written before the tag: discrete
    if trained_on != model:
        raise ValueError(
            f"the heuristic's weights were trained on the {trained_on} FSM model, but the swarm "
            f"runs the {model} model; pass weights of the {model} model (or none: the shipped ones)"
        )
    return pol


def heuristic_mask(agents: Any, n: int) -> np.ndarray:
    """(n,) bool mask of the heuristic agents: None (all), a fraction in (0, 1] (the first
    round(fraction * n) agents, at least one), a bool mask or agent indices."""
    if agents is None:
        return np.ones(n, dtype=np.bool_)
    if isinstance(agents, float) and not isinstance(agents, bool):
        if not (math.isfinite(agents) and 0.0 < agents <= 1.0):
            raise ValueError(f"heuristic_agents as a fraction must be in (0, 1], got {agents!r}")
        mask = np.zeros(n, dtype=np.bool_)
        mask[: max(1, round(agents * n))] = True
        return mask
    arr = np.asarray(agents)
    if arr.dtype == np.bool_ and arr.shape == (n,):
        return arr.copy()
    if arr.ndim == 1 and arr.dtype.kind in "iu" and np.all((arr >= 0) & (arr < n)):
        mask = np.zeros(n, dtype=np.bool_)
        mask[arr] = True
        return mask
    raise ValueError(
        f"heuristic_agents must be None, a fraction in (0, 1], an ({n},) bool mask or agent "
        f"indices in 0..{n - 1}, got {agents!r:.80}"
    )
