"""PlanGAN's networks as ensembles evaluated in one batched computation.

Every ensemble member has its own weights, but the members are stored stacked (``(E, out, in)``)
and evaluated together with ``torch.baddbmm``: one matrix product per layer for all members
instead of a Python loop over them. Inputs are ``(E, B, in)``: member ``e`` sees row ``e``.
Adam and the explicit L2 terms act element-wise, so one optimiser over the stacked parameters is
exactly one optimiser per member.

Sizes and layers follow Charlesworth & Montana, "PlanGAN" (NeurIPS 2020) and the original code
(``henrycharlesworth/PlanGAN``):

* generator: [z, x_t, g_t] -> Linear 512 -> BatchNorm -> ReLU -> Linear 512 -> BatchNorm -> ReLU
  -> Linear (ac_dim + state_dim); the action is tanh of the first ac_dim outputs, the rest is the
  next *normalised state itself* (not a difference);
* discriminator: [x_t, g_t, x_{t+1}, a_t] -> SN(Linear 512) -> LeakyReLU(0.01) -> SN(Linear 512)
  -> LeakyReLU(0.01) -> Linear 1 (spectral norm with one power iteration per training forward
  pass and persistent u, v; none on the output layer);
* one-step model (OSM): [normalised state, raw action] -> Linear 512 -> ReLU -> Linear 512 ->
  ReLU -> Linear state_dim, the *normalised state difference*.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class EnsembleLinear(nn.Module):
    """``E`` independent linear layers: ``(E, B, in) -> (E, B, out)``.

    Initialised like ``nn.Linear`` (Kaiming-uniform weights, uniform bias in +-1/sqrt(in)).
    """

    def __init__(self, members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.members, self.in_features, self.out_features = members, in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(members, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(members, 1, out_features))
        with torch.no_grad():
            for e in range(members):  # nn.Linear's initialisation, member by member
                nn.init.kaiming_uniform_(self.weight[e], a=math.sqrt(5))
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, detach: bool = False) -> torch.Tensor:
        weight, bias = (self.weight.detach(), self.bias.detach()) if detach else (self.weight, self.bias)  # fmt: skip
        return torch.baddbmm(bias, x, weight.transpose(1, 2))


class EnsembleSpectralLinear(EnsembleLinear):
    """:class:`EnsembleLinear` with spectral normalisation of each member's weight.

    As ``torch.nn.utils.spectral_norm`` with ``n_power_iterations=1``: in training mode each
    forward pass makes one power iteration on the persistent ``u``, ``v`` (no gradient through
    them) and divides the weight by ``sigma = u^T W v``; in eval mode ``u``, ``v`` stay as they are.
    """

    u: torch.Tensor
    v: torch.Tensor

    def __init__(self, members: int, in_features: int, out_features: int, eps: float = 1e-12) -> None:  # fmt: skip
        super().__init__(members, in_features, out_features)
        self.eps = eps
        u = F.normalize(torch.randn(members, out_features), dim=1, eps=eps)
        v = F.normalize(torch.randn(members, in_features), dim=1, eps=eps)
        self.register_buffer("u", u)
        self.register_buffer("v", v)
        with torch.no_grad():  # torch's spectral_norm starts with 15 power iterations
            for _ in range(15):
                self._power_iteration()

    def _power_iteration(self) -> None:
        w = self.weight.detach()
        v = F.normalize(torch.bmm(w.transpose(1, 2), self.u.unsqueeze(2)).squeeze(2), dim=1, eps=self.eps)  # fmt: skip
        u = F.normalize(torch.bmm(w, v.unsqueeze(2)).squeeze(2), dim=1, eps=self.eps)
        self.u.copy_(u)
        self.v.copy_(v)

    def normalised_weight(self) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                self._power_iteration()
        u, v = self.u.clone(), self.v.clone()
        sigma = torch.einsum("eo,eoi,ei->e", u, self.weight, v)
        return self.weight / sigma.view(-1, 1, 1)

    def forward(self, x: torch.Tensor, detach: bool = False) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.normalised_weight().transpose(1, 2))


class EnsembleBatchNorm(nn.Module):
    """BatchNorm1d per member: ``(E, B, F)`` is normalised over B separately for each member."""

    def __init__(self, members: int, features: int) -> None:
        super().__init__()
        self.members, self.features = members, features
        self.norm = nn.BatchNorm1d(members * features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        members, batch, features = x.shape
        norm = self.norm
        if not self.training and norm.running_mean is not None and norm.running_var is not None:
            # eval mode is an affine map per member and feature: no (E, B, F) <-> (B, E*F) copies
            scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
            shift = norm.bias - norm.running_mean * scale
            return torch.addcmul(shift.view(members, 1, features), x, scale.view(members, 1, features))  # fmt: skip
        flat = x.transpose(0, 1).reshape(batch, members * features)
        return self.norm(flat).reshape(batch, members, features).transpose(0, 1)


def l2_sum(module: nn.Module) -> torch.Tensor:
    """``sum(theta**2)`` over every parameter (BatchNorm's included), summed over members."""
    return sum((p**2).sum() for p in module.parameters())  # type: ignore[return-value]


class Generator(nn.Module):
    """The one-step conditional generator, ``E`` members."""

    def __init__(self, members: int, state_dim: int, goal_dim: int, action_dim: int,
                 latent_dim: int, hidden: Sequence[int]) -> None:  # fmt: skip
        super().__init__()
        self.members, self.state_dim, self.action_dim = members, state_dim, action_dim
        self.latent_dim = latent_dim
        sizes = [latent_dim + state_dim + goal_dim, *hidden]
        self.hidden = nn.ModuleList(EnsembleLinear(members, a, b) for a, b in itertools.pairwise(sizes))  # fmt: skip
        self.norms = nn.ModuleList(EnsembleBatchNorm(members, b) for b in hidden)
        self.out = EnsembleLinear(members, sizes[-1], action_dim + state_dim)

    def forward(self, z: torch.Tensor, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """One step: ``(action in [-1, 1], next normalised state)``, each ``(E, B, .)``."""
        h = torch.cat([z, x, g], dim=-1)
        for layer, norm in zip(self.hidden, self.norms, strict=True):
            h = F.relu(norm(layer(h)))
        out = self.out(h)
        return torch.tanh(out[..., : self.action_dim]), out[..., self.action_dim :]


class Discriminator(nn.Module):
    """Scores single transitions ``[x_t, g_t, x_{t+1}, a_t]``, ``E`` members."""

    def __init__(self, members: int, state_dim: int, goal_dim: int, action_dim: int,
                 hidden: Sequence[int]) -> None:  # fmt: skip
        super().__init__()
        sizes = [2 * state_dim + goal_dim + action_dim, *hidden]
        self.hidden = nn.ModuleList(EnsembleSpectralLinear(members, a, b) for a, b in itertools.pairwise(sizes))  # fmt: skip
        self.out = EnsembleLinear(members, sizes[-1], 1)

    def forward(self, x: torch.Tensor, g: torch.Tensor, x_next: torch.Tensor, a: torch.Tensor) -> torch.Tensor:  # fmt: skip
        h = torch.cat([x, g, x_next, a], dim=-1)
        for layer in self.hidden:
            h = F.leaky_relu(layer(h), 0.01)
        return self.out(h).squeeze(-1)


class OneStepModel(nn.Module):
    """Deterministic dynamics ``[normalised state, raw action] -> normalised state difference``."""

    def __init__(self, members: int, state_dim: int, action_dim: int, hidden: Sequence[int]) -> None:  # fmt: skip
        super().__init__()
        self.members = members
        sizes = [state_dim + action_dim, *hidden, state_dim]
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b) for a, b in itertools.pairwise(sizes))  # fmt: skip

    def forward(self, x: torch.Tensor, a: torch.Tensor, detach: bool = False) -> torch.Tensor:
        h = torch.cat([x, a], dim=-1)
        for layer in self.layers[:-1]:
            h = F.relu(layer(h, detach=detach))
        out: torch.Tensor = self.layers[-1](h, detach=detach)
        return out


def by_member(
    members: int, assign: torch.Tensor, *inputs: torch.Tensor
) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """Group rows ``(N, .)`` by their member ``assign`` (N,) into padded ``(E, M, .)`` batches.

    Returns the grouped inputs, the row index of each slot ``(E, M)`` and the mask of real slots.
    One gather, no Python loop over members: the padding slots repeat row 0 and are dropped by
    :func:`scatter_rows`.
    """
    counts = torch.bincount(assign, minlength=members)
    width = int(counts.max().item())
    order = torch.argsort(assign, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(width, device=assign.device).unsqueeze(0)
    mask = slot < counts.unsqueeze(1)
    position = (starts.unsqueeze(1) + slot).clamp(max=assign.numel() - 1)
    index = torch.where(mask, order[position], torch.zeros_like(position))
    return [x[index] for x in inputs], index, mask


def scatter_rows(values: torch.Tensor, index: torch.Tensor, mask: torch.Tensor, rows: int) -> torch.Tensor:  # fmt: skip
    """The inverse of :func:`by_member`: ``(E, M, .) -> (rows, .)``."""
    out = values.new_empty((rows, *values.shape[2:]))
    out[index[mask]] = values[mask]
    return out


class Scaler:
    """A standard scaler (as sklearn's ``StandardScaler``: a zero std counts as 1)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, device: torch.device | str = "cpu") -> None:  # fmt: skip
        self.mean_np = np.asarray(mean, dtype=np.float64)
        self.std_np = np.where(np.asarray(std) > 0, np.asarray(std, dtype=np.float64), 1.0)
        self.mean = torch.as_tensor(self.mean_np, dtype=torch.float32, device=device)
        self.std = torch.as_tensor(self.std_np, dtype=torch.float32, device=device)

    @classmethod
    def fit(cls, data: np.ndarray, noise_std: float, rng: np.random.Generator,
            device: torch.device | str = "cpu") -> Scaler:  # fmt: skip
        """Fit on ``data + N(0, noise_std^2)`` (the original adds this noise before fitting)."""
        noisy = data + rng.normal(0.0, noise_std, size=data.shape)
        return cls(noisy.mean(axis=0), noisy.std(axis=0), device)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_np, "std": self.std_np}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], device: torch.device | str) -> Scaler:
        return cls(state["mean"], state["std"], device)
