"""Validated parameters of the FSM swarm (Charlesworth & Turner, PNAS 2019).

Every default is the behaviour of the authors' reference C++ (``henrycharlesworth/intrinsically_motivated_collective_motion`` on
GitHub), quirks included, with the parameters of the paper's Movie S1 (N = 50, tau = 4, n_s = 40,
15-degree turns, v0 = 10, dv = 2). ``variant="clean"`` switches the quirks that can change results
to their corrected form (docs/swarm.md, "The model and its options"); any option passed explicitly
overrides the variant preset. Validation happens here, in plain Python, so bad
parameters raise :class:`ValueError` before any numba compilation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

#: Allowed values of the string options.
CHOICES: dict[str, tuple[str, ...]] = {
    "variant": ("cpp", "clean"),
    "model": ("discrete", "continuous"),
    "count_depths": ("all", "leaf"),
    "halfwidth": ("atan", "asin"),
    "tie_break": ("cpp", "uniform"),
    "swept_test": ("slope", "robust"),
    "init_overlap": ("allow", "reject"),
    "init_heading": ("aligned", "random"),
}

#: What ``variant="clean"`` changes: the reference C++'s quirks that can change results.
CLEAN_PRESET: dict[str, Any] = {
    "swept_test": "robust",
    "early_exit": False,
    "halfwidth": "asin",
    "tie_break": "uniform",
    "init_overlap": "reject",
}

#: Reference (C++) values of the same options.
CPP_PRESET: dict[str, Any] = {
    "swept_test": "slope",
    "early_exit": True,
    "halfwidth": "atan",
    "tie_break": "cpp",
    "init_overlap": "allow",
}

# Integer codes passed to the numba kernels.
HALFWIDTH_CODE = {"atan": 0, "asin": 1}
SWEPT_CODE = {"slope": 0, "robust": 1}
COUNT_CODE = {"all": 0, "leaf": 1}


@dataclass(frozen=True)
class SwarmConfig:
    """All parameters of the model. Lengths are in agent radii (``radius = 1``), angles in radians.

    Attributes:
        n_agents: number of agents N (>= 2).
        horizon: look-ahead depth tau (>= 1).
        n_sensors: number of visual sensors n_s (1..63; packed into an int64).
        v0: nominal speed; the ballistic model of the others uses it.
        dv: speed change; speeds are v0 - dv, v0, v0 + dv.
        dtheta: turn angle (default 15 degrees).
        dt: time step.
        radius: agent radius R; contact is at centre distance 2R.
        sensor_threshold: a sensor is on iff its fill is strictly greater than this.
        turn_noise: Gaussian sd of the heading change of a turn (C++ ``decNoise``).
        speed_noise: Gaussian sd of the speed (C++ ``speedNoise``).
        box: side of the square of initial positions.
        heading_sd: sd of the initial headings about +x (default dtheta).
        variant: ``"cpp"`` (reference) or ``"clean"`` (quirks fixed); sets the defaults below.
        model: ``"discrete"`` (count distinct visual states) or ``"continuous"`` (W_alpha of the
            talk: mean pairwise difference of the occupancy functions on a branch).
        count_depths: ``"all"`` (distinct states over depths 1..tau, reference) or ``"leaf"``.
        halfwidth: ``"atan"`` (reference, atan(R/d)) or ``"asin"`` (exact, asin(R/d)).
        tie_break: ``"cpp"`` (turn > slow > keep > fast, random L/R) or ``"uniform"``.
        swept_test: ``"slope"`` (reference slope-intercept form) or ``"robust"``.
        early_exit: reference collision-test bug: overlapping start positions end the test
            with "no collision".
        init_overlap: ``"allow"`` (reference) or ``"reject"`` (rejection-sample positions).
        init_heading: ``"aligned"`` (N(0, heading_sd) about +x) or ``"random"`` (uniform).
    """

    n_agents: int = 50
    horizon: int = 4
    n_sensors: int = 40
    v0: float = 10.0
    dv: float = 2.0
    dtheta: float = math.pi / 12.0
    dt: float = 1.0
    radius: float = 1.0
    sensor_threshold: float = 0.5
    turn_noise: float = 0.0
    speed_noise: float = 0.0
    box: float = 100.0
    heading_sd: float | None = None
    variant: str = "cpp"
    model: str = "discrete"
    count_depths: str = "all"
    halfwidth: str = "atan"
    tie_break: str = "cpp"
    swept_test: str = "slope"
    early_exit: bool = True
    init_overlap: str = "allow"
    init_heading: str = "aligned"

    @classmethod
    def create(cls, **kwargs: Any) -> SwarmConfig:
        """Build a validated config. ``variant`` sets the defaults of the quirk options; explicit
        keyword arguments override them. Unknown keywords raise :class:`ValueError`."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise ValueError(f"unknown swarm option(s) {unknown}; expected some of {sorted(names)}")
        variant = kwargs.get("variant", "cpp")
        if variant not in CHOICES["variant"]:
            raise ValueError(f"variant must be one of {CHOICES['variant']}, got {variant!r}")
        merged = dict(CLEAN_PRESET if variant == "clean" else CPP_PRESET)
        merged.update(kwargs)
        cfg = cls(**merged)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter."""
        for name in ("n_agents", "horizon", "n_sensors"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"{name} must be an int, got {value!r}")
        if self.n_agents < 2:
            raise ValueError(f"n_agents must be >= 2, got {self.n_agents}")
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.horizon}")
        if self.horizon > 8:
            raise ValueError(
                f"horizon must be <= 8 (5**horizon nodes per branch), got {self.horizon}"
            )
        if not 1 <= self.n_sensors <= 63:
            raise ValueError(f"n_sensors must be in 1..63, got {self.n_sensors}")
        for name in ("v0", "dt", "radius", "box", "dtheta"):
            value = getattr(self, name)
            if not _finite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        for name in ("dv", "turn_noise", "speed_noise"):
            value = getattr(self, name)
            if not _finite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.dv >= self.v0:
            raise ValueError(
                f"dv must be < v0 so that the slow speed is positive, got dv={self.dv}"
            )
        if not _finite(self.sensor_threshold) or not 0 <= self.sensor_threshold < 1:
            raise ValueError(f"sensor_threshold must be in [0, 1), got {self.sensor_threshold!r}")
        if self.heading_sd is not None and (not _finite(self.heading_sd) or self.heading_sd < 0):
            raise ValueError(
                f"heading_sd must be None or a finite number >= 0, got {self.heading_sd!r}"
            )
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if not isinstance(self.early_exit, bool):
            raise ValueError(f"early_exit must be a bool, got {self.early_exit!r}")

    @property
    def init_heading_sd(self) -> float:
        """The sd of the initial headings (``heading_sd`` or, by default, ``dtheta``)."""
        return self.dtheta if self.heading_sd is None else float(self.heading_sd)

    @property
    def speeds(self) -> tuple[float, float, float, float, float]:
        """Speed of each of the 5 moves (right, left, slow, keep, fast)."""
        return (self.v0, self.v0, self.v0 - self.dv, self.v0, self.v0 + self.dv)

    @property
    def turns(self) -> tuple[float, float, float, float, float]:
        """Heading change of each of the 5 moves."""
        return (-self.dtheta, self.dtheta, 0.0, 0.0, 0.0)

    def replace(self, **kwargs: Any) -> SwarmConfig:
        """A validated copy with some fields changed."""
        unknown = sorted(set(kwargs) - {f.name for f in fields(self)})
        if unknown:
            raise ValueError(f"unknown swarm option(s) {unknown}")
        cfg = replace(self, **kwargs)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields (JSON-serialisable)."""
        return asdict(self)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value)) and not isinstance(value, bool)
    except (TypeError, ValueError):
        return False


def as_config(config: SwarmConfig | None = None, **kwargs: Any) -> SwarmConfig:
    """Return ``config`` (optionally with ``kwargs`` replaced) or a new config from ``kwargs``."""
    if config is None:
        return SwarmConfig.create(**kwargs)
    if not isinstance(config, SwarmConfig):
        raise ValueError(f"config must be a SwarmConfig or None, got {type(config).__name__}")
    return config.replace(**kwargs) if kwargs else config


def max_branch_nodes(horizon: int) -> int:
    """Nodes in one branch (depths 1..horizon): 1 + 5 + ... + 5**(horizon-1)."""
    return (5**horizon - 1) // 4
