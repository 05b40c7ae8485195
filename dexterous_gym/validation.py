"""Checks of user input at the package's boundary, with one message form.

Every public entry point (env constructors, ``step``, ``set_state``, ``reset``, ``compute_reward``,
:class:`~dexterous_gym.rollout.BatchedRollout`) checks its arguments with these functions before it
changes anything. A wrong *type* raises ``TypeError``, a wrong *value* (shape, range, NaN/inf)
``ValueError``; both say the argument's name, the expected form and what was received.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "check_bool",
    "check_choice",
    "check_int",
    "check_real",
    "describe",
    "real_array",
]


def describe(value: Any) -> str:
    """A short description of a received value for error messages (arrays by shape and dtype)."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def real_array(value: Any, name: str, expected: str) -> np.ndarray:
    """``value`` as a float64 array, or ``TypeError`` if it is not an array of real numbers.

    Accepted: numpy arrays, lists and scalars of floats or integers (any precision). Refused:
    booleans, complex numbers, strings, objects, ``None`` and ragged lists.
    """
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise TypeError(f"{name} must be {expected}, got a ragged or non-numeric {type(value).__name__}") from None  # fmt: skip
    if array.dtype.kind not in "fiu":
        raise TypeError(
            f"{name} must be {expected} (real numbers), got {type(value).__name__} "
            f"of dtype {array.dtype}"
        )
    return array.astype(np.float64, copy=False)


def check_real(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    positive: bool = False,
    maximum: float | None = None,
) -> float:
    """A finite real number (not a bool) within the bounds, as a float."""
    expected = "a finite number"
    if positive:
        expected = "a finite number > 0"
    elif minimum is not None:
        expected = f"a finite number >= {minimum:g}"
    if maximum is not None:
        expected += f" and <= {maximum:g}"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    number = float(value)
    if (
        not np.isfinite(number)
        or (positive and not number > 0)
        or (minimum is not None and number < minimum)
        or (maximum is not None and number > maximum)
    ):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return number


def check_int(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An integer (Python or numpy, not a bool or a float) within the bounds, as an int."""
    expected = "an integer"
    if minimum is not None and maximum is not None:
        expected = f"an integer in [{minimum}, {maximum}]"
    elif minimum is not None:
        expected = f"an integer >= {minimum}"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    number = int(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ValueError(f"{name} must be {expected}, got {number}")
    return number


def check_bool(value: Any, name: str) -> bool:
    """True or False (numpy booleans too); anything else is a ``TypeError``."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return bool(value)


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """One of ``choices`` (compared by equality, types checked first for strings)."""
    if all(isinstance(c, str) for c in choices) and not isinstance(value, str):
        raise TypeError(f"{name} must be one of {list(choices)}, got {describe(value)}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value
