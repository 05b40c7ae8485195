"""The experiment presets, as typed data.

A :class:`ReproducePreset` sets up the reproduction of the paper's flock, a :class:`SteerPreset`
the steering experiments (its ``variants`` are :class:`~swarm_gym.steering.SteeringConfig`
settings, its ``paths`` are :class:`PathSpec` entries). :data:`REPRODUCE_PRESETS` and
:data:`STEER_PRESETS` hold the named presets (``smoke``: small and fast; ``paper``: the numbers in
docs/swarm.md). :data:`PRESETS` is the same in plain-dict form (what the summaries record as
``params``); editing it changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from swarm_gym.steering import SteeringConfig


@dataclass(frozen=True)
class ReproducePreset:
    """The ``reproduce`` experiment: the reference model from the aligned start.

    Attributes:
        n_agents, horizon: N and tau.
        steps: steps per run.
        seeds: one run per seed; the first one is filmed.
        burn_in: the summary and the move mix cover steps ``>= burn_in``.
        gif_every: film every ``gif_every``-th step.
    """

    n_agents: int
    horizon: int
    steps: int
    seeds: tuple[int, ...]
    burn_in: int
    gif_every: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (lists for tuples), in field order."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class PathSpec:
    """One waypoint path of the ``steer`` experiment.

    Attributes:
        variant: name of the :attr:`SteerPreset.variants` entry the informed agents use.
        waypoints: (x, y) of each waypoint, in order.
        reach: distance of the flock centre at which a waypoint counts as reached.
        steps: the most steps a run takes (it stops when the last waypoint is reached).
    """

    variant: str
    waypoints: tuple[tuple[float, float], ...]
    reach: float
    steps: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (lists for tuples), in field order."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class SteerPreset:
    """The ``steer`` experiments: a 90-degree turn of the target direction, and waypoint paths.

    Attributes:
        n_agents, horizon: N and tau.
        seeds: one run per seed and setting; the seed also picks the informed agents.
        fraction: informed fraction (a variant may override it).
        turn_step: step at which the target turns by 90 degrees.
        after: steps run after the turn (the turn criterion's window).
        gif_every: film every ``gif_every``-th step (paths, first seed).
        variants: name -> :class:`~swarm_gym.steering.SteeringConfig` settings (without the
            target, which the experiment sets).
        turn_variants: the variants run in the turn experiment, in order.
        paths: name -> :class:`PathSpec`.

    Raises:
        ValueError: when a variant's settings are not valid :class:`SteeringConfig` settings.
    """

    n_agents: int
    horizon: int
    seeds: tuple[int, ...]
    fraction: float
    turn_step: int
    after: int
    gif_every: int
    variants: Mapping[str, Mapping[str, Any]]
    turn_variants: tuple[str, ...]
    paths: Mapping[str, PathSpec]

    def __post_init__(self) -> None:
        for name, settings in self.variants.items():
            check_settings(name, {"fraction": self.fraction, **settings})

    def check_names(self) -> None:
        """Raise ValueError unless every turn variant and path variant is in ``variants``."""
        wanted = list(self.turn_variants) + [spec.variant for spec in self.paths.values()]
        missing = sorted({name for name in wanted if name not in self.variants})
        if missing:
            raise ValueError(f"steer preset: unknown variant(s) {missing}")

    def settings(self, variant: str) -> dict[str, Any]:
        """The steering settings of ``variant``: the preset's ``fraction``, then its own."""
        return {"fraction": self.fraction, **self.variants[variant]}

    def with_variants(self, variants: Mapping[str, Mapping[str, Any]]) -> SteerPreset:
        """The same set-up with other variants (e.g. for a sweep)."""
        return replace(self, variants=dict(variants))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (lists for tuples, dicts for paths), in field order."""
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        out["variants"] = {name: dict(kw) for name, kw in self.variants.items()}
        out["paths"] = {name: spec.to_dict() for name, spec in self.paths.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SteerPreset:
        """Inverse of :meth:`to_dict` (paths may be dicts or :class:`PathSpec`)."""
        kw = dict(data)
        kw["seeds"] = tuple(kw["seeds"])
        kw["turn_variants"] = tuple(kw["turn_variants"])
        kw["variants"] = {name: dict(v) for name, v in kw["variants"].items()}
        kw["paths"] = {
            name: spec if isinstance(spec, PathSpec) else _path_from_dict(spec)
            for name, spec in kw["paths"].items()
        }
        return cls(**kw)


def check_settings(name: str, settings: Mapping[str, Any]) -> None:
    """Raise ValueError naming ``name`` unless ``settings`` make a valid SteeringConfig."""
    try:
        SteeringConfig(**settings)
    except (TypeError, ValueError) as err:
        raise ValueError(f"variant {name!r}: {err}") from None


def as_steer_preset(preset: SteerPreset | Mapping[str, Any]) -> SteerPreset:
    """A :class:`SteerPreset` from itself or from its plain-dict form."""
    return preset if isinstance(preset, SteerPreset) else SteerPreset.from_dict(preset)


def _path_from_dict(spec: Mapping[str, Any]) -> PathSpec:
    waypoints = tuple((x, y) for x, y in spec["waypoints"])
    return PathSpec(variant=spec["variant"], waypoints=waypoints, reach=spec["reach"],
                    steps=spec["steps"])  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


REPRODUCE_PRESETS: dict[str, ReproducePreset] = {
    "smoke": ReproducePreset(n_agents=20, horizon=3, steps=60, seeds=(0,), burn_in=20,
                             gif_every=3),
    "paper": ReproducePreset(n_agents=50, horizon=4, steps=1000, seeds=(0, 1, 2), burn_in=200,
                             gif_every=5),
}  # fmt: skip

_BELIEF = {"strength": 0.0, "belief_turn": math.pi / 6, "lead_distance": 60.0}

STEER_PRESETS: dict[str, SteerPreset] = {
    "smoke": SteerPreset(
        n_agents=20, horizon=3, seeds=(0,), fraction=0.1, turn_step=20, after=40, gif_every=3,
        variants={"control": {"strength": 0.0},
                  "gated": {"strength": 10.0, "gate": 0.3},
                  "belief": dict(_BELIEF),
                  "gated_30pct": {"strength": 10.0, "gate": 0.3, "fraction": 0.3}},
        turn_variants=("control", "gated", "belief"),
        paths={"short": PathSpec(variant="gated_30pct", waypoints=((250, 50), (400, 150)),
                                 reach=40.0, steps=60)},
    ),
    "paper": SteerPreset(
        n_agents=50, horizon=4, seeds=(0, 1, 2), fraction=0.1, turn_step=50, after=300,
        gif_every=5,
        variants={"control": {"strength": 0.0},
                  "plain": {"strength": 0.5},
                  "gated": {"strength": 10.0, "gate": 0.3},
                  "belief": dict(_BELIEF),
                  "gated_30pct": {"strength": 10.0, "gate": 0.3, "fraction": 0.3}},
        turn_variants=("control", "plain", "gated", "belief"),
        # sharp: legs of 30-45 steps, turns of 20-30 degrees (needs ~30 % informed);
        # gentle: legs of ~100 steps, 30-degree turns (10 % informed, belief steering)
        paths={"sharp": PathSpec(variant="gated_30pct",
                                 waypoints=((400, 50), (700, 200), (900, 500), (1000, 900)),
                                 reach=60.0, steps=700),
               "gentle": PathSpec(variant="belief",
                                  waypoints=((1000, 50), (1900, 570), (2420, 1470), (2420, 2500)),
                                  reach=100.0, steps=700)},
    ),
}  # fmt: skip

#: Every preset in plain-dict form, by experiment and name (a copy: the runners read the typed
#: presets above).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "reproduce": {name: p.to_dict() for name, p in REPRODUCE_PRESETS.items()},
    "steer": {name: p.to_dict() for name, p in STEER_PRESETS.items()},
}
