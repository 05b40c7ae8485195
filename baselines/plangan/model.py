"""PlanGAN's learner and planner: GAN and OSM ensembles, their losses, and ``plan``.

Charlesworth & Montana, "PlanGAN: Model-based Planning With Sparse Rewards and Multiple Goals"
(NeurIPS 2020), as in the original code (``henrycharlesworth/PlanGAN``). With ``B`` real
segments ``(x_0..x_tau, a_0..a_{tau-1})`` and per-step goals, all normalised, and ``D(.)`` the mean
over the ``tau`` transition scores:

* discriminator:  ``L_D = mean D(real) - mean D(fake) + l2_disc * sum theta^2``  (minimising it
  pushes real scores down and fake ones up: a Wasserstein-style critic, spectral norm, no
  gradient penalty);
* generator:      ``L_G = mean D(fake) + gan_model_l2 * L_model + l2_gen * sum theta^2`` with
  ``L_model = MSE(mean_j OSM_j(x^_t, a^_t), diffnorm(unnorm(x^_{t+1}) - unnorm(x^_t)))``,
  gradients through the OSMs' inputs only;
* OSM:            ``MSE(OSM(x, a), diffnorm(x' - x)) + l2_osm * sum theta^2``.

Each ensemble member has its own batch and its own loss; the members are summed into one
backward pass (their gradients stay separate). The planner evaluates all ``K x C`` imagined
rollouts of a step in one batch (:meth:`PlanGAN.plan`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from baselines.plangan.buffer import ReplayBuffer
from baselines.plangan.config import PlanGANHyperparameters
from baselines.plangan.networks import (
    Discriminator,
    Generator,
    OneStepModel,
    Scaler,
    by_member,
    l2_sum,
    scatter_rows,
)


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``sum_e [mean_B D(real) - mean_B D(fake)]`` for trajectory scores ``(E, B)``."""
    return (real.mean(dim=1) - fake.mean(dim=1)).sum()


def generator_adversarial_loss(fake: torch.Tensor) -> torch.Tensor:
    """``sum_e mean_B D(fake)``: the generator lowers its samples' scores toward the real ones."""
    return fake.mean(dim=1).sum()


def choose_action(candidates: torch.Tensor, scores: torch.Tensor, average: bool, alpha: float) -> torch.Tensor:  # fmt: skip
    """The planner's choice among ``K`` candidate actions ``(K, A)`` with scores ``(K,)``.

    Without averaging: the first best candidate. With it: z-score the scores
    (``(S - mean) / (std + 1e-4)``), weight ``w_k = exp(alpha (S~_k - max S~))`` and return
    ``sum w_k a_k / sum w_k``.
    """
    if not average:
        return candidates[int(torch.argmax(scores).item())]
    z = (scores - scores.mean()) / (scores.std(unbiased=False) + 1e-4)
    weights = torch.exp(alpha * (z - z.max()))
    return (weights.unsqueeze(1) * candidates).sum(0) / weights.sum()


def goal_fraction(positions: torch.Tensor, goal: torch.Tensor, tol: float) -> torch.Tensor:
    """Fraction of the ``T`` imagined states ``(T, N, 3)`` whose object lies within ``tol``."""
    return (torch.linalg.vector_norm(positions - goal, dim=-1) < tol).float().mean(0)


@dataclass
class PlanResult:
    action: np.ndarray
    candidates: np.ndarray
    scores: np.ndarray


class PlanGAN:
    """The networks, optimisers, scalers and the torch random stream of one run."""

    def __init__(self, hp: PlanGANHyperparameters, state_dim: int, action_dim: int, goal_dim: int,
                 device: str | torch.device, seed: int, object_slice: slice = slice(3, 6)) -> None:  # fmt: skip
        self.hp, self.device = hp, torch.device(device)
        self.state_dim, self.action_dim, self.goal_dim = state_dim, action_dim, goal_dim
        self.object_slice = object_slice
        torch.manual_seed(seed)  # the initial weights
        E, O = hp.num_gans, hp.num_osms
        self.gen = Generator(E, state_dim, goal_dim, action_dim, hp.latent_dim, hp.hidden).to(self.device)  # fmt: skip
        self.disc = Discriminator(E, state_dim, goal_dim, action_dim, hp.hidden).to(self.device)
        self.osm = OneStepModel(O, state_dim, action_dim, hp.hidden).to(self.device)
        self.opt_gen = torch.optim.Adam(self.gen.parameters(), lr=hp.lr_gan, betas=hp.betas_gan)
        self.opt_disc = torch.optim.Adam(self.disc.parameters(), lr=hp.lr_gan, betas=hp.betas_gan)
        self.opt_osm = torch.optim.Adam(self.osm.parameters(), lr=hp.lr_osm, betas=hp.betas_osm)
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(seed + 1)
        self.state_scaler: Scaler | None = None
        self.diff_scaler: Scaler | None = None
        self.goal_scaler: Scaler | None = None

    # -- scalers ----------------------------------------------------------------------------
    def fit_scalers(self, buffer: ReplayBuffer, rng: np.random.Generator) -> None:
        """Fit once, on the phase-1 data, with the original's noise (never refitted)."""
        n = buffer.size
        obs, nxt = buffer.obs[:n], buffer.next_obs[:n]
        goals = np.concatenate([buffer.ag[:n], nxt[:, self.object_slice]])
        hp = self.hp
        self.state_scaler = Scaler.fit(obs, hp.scaler_noise_state, rng, self.device)
        self.diff_scaler = Scaler.fit(nxt - obs, hp.scaler_noise_diff, rng, self.device)
        self.goal_scaler = Scaler.fit(goals, hp.scaler_noise_goal, rng, self.device)

    def _scalers(self) -> tuple[Scaler, Scaler, Scaler]:
        if self.state_scaler is None or self.diff_scaler is None or self.goal_scaler is None:
            raise RuntimeError("fit_scalers must run before training or planning")
        return self.state_scaler, self.diff_scaler, self.goal_scaler

    def tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(x, dtype=torch.float32, device=self.device)

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.rng, device=self.device)

    def randint(self, high: int, n: int) -> torch.Tensor:
        return torch.randint(0, high, (n,), generator=self.rng, device=self.device)

    # -- the pieces the losses and the planner share -------------------------------------------
    def osm_next(self, x: torch.Tensor, a: torch.Tensor, diff_norm: torch.Tensor) -> torch.Tensor:
        """The normalised next state from a normalised diff prediction (clipped to +-10 raw)."""
        s_scaler, d_scaler, _ = self._scalers()
        diff = d_scaler.inverse(diff_norm).clamp(-10.0, 10.0)
        return s_scaler.transform(s_scaler.inverse(x) + diff)

    def rollout(self, x0: torch.Tensor, goals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``tau`` recurrent generator steps from ``x0 (E, B, S)`` with goals ``(E, B, tau, G)``:
        states ``(E, B, tau+1, S)`` and actions ``(E, B, tau, A)``, a fresh latent per step."""
        E, B = x0.shape[:2]
        xs, acts = [x0], []
        for t in range(goals.shape[2]):
            a, x_next = self.gen(self.randn(E, B, self.hp.latent_dim), xs[-1], goals[:, :, t])
            xs.append(x_next)
            acts.append(a)
        return torch.stack(xs, 2), torch.stack(acts, 2)

    def trajectory_scores(self, states: torch.Tensor, actions: torch.Tensor, goals: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """``D`` averaged over the ``tau`` transitions of each segment: ``(E, B)``."""
        E, B, tau = actions.shape[:3]
        flat = lambda t: t.reshape(E, B * tau, -1)  # noqa: E731
        scores = self.disc(flat(states[:, :, :-1]), flat(goals), flat(states[:, :, 1:]), flat(actions))  # fmt: skip
        return scores.reshape(E, B, tau).mean(-1)

    def model_loss(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``L_model`` of each GAN's generated segments, summed over GANs (OSM weights fixed)."""
        s_scaler, d_scaler, _ = self._scalers()
        E, B, tau = actions.shape[:3]
        x, a = states[:, :, :-1], actions
        target = d_scaler.transform(s_scaler.inverse(states[:, :, 1:]) - s_scaler.inverse(x))
        if self.hp.use_all_osms_for_each_gan:
            O = self.hp.num_osms
            xi = x.reshape(1, E * B * tau, -1).expand(O, -1, -1)
            ai = a.reshape(1, E * B * tau, -1).expand(O, -1, -1)
            pred = self.osm(xi, ai, detach=True).mean(0).reshape(E, B, tau, -1)
        else:  # GAN e is regularised by OSM e (mod the number of OSMs)
            members = torch.arange(E, device=self.device) % self.hp.num_osms
            pred_all = self.osm(x.reshape(1, E * B * tau, -1).expand(self.hp.num_osms, -1, -1),
                                a.reshape(1, E * B * tau, -1).expand(self.hp.num_osms, -1, -1), detach=True)  # fmt: skip
            pred = pred_all.reshape(self.hp.num_osms, E, B, tau, -1)[members, torch.arange(E)]
        return ((pred - target) ** 2).mean(dim=(1, 2, 3)).sum()

    # -- training ---------------------------------------------------------------------------
    def gan_tensors(self, buffer: ReplayBuffer, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
        """One relabelled batch per GAN, normalised: ``(E, B, tau+1, S)``, ``(E, B, tau, A)``, goals."""
        hp = self.hp
        s_scaler, _, g_scaler = self._scalers()
        batch = buffer.sample_gan(hp.num_gans * hp.gan_batch_size, hp.tau, rng, hp.random_future_goals,
                                  hp.filter_distance if hp.filter_train_batch else None, hp.sample_noise)  # fmt: skip
        shape = (hp.num_gans, hp.gan_batch_size)
        states = s_scaler.transform(self.tensor(batch.states)).reshape(*shape, hp.tau + 1, -1)
        actions = self.tensor(batch.actions).reshape(*shape, hp.tau, -1)
        goals = g_scaler.transform(self.tensor(batch.goals)).reshape(*shape, hp.tau, -1)
        return states, actions, goals

    def gan_step(self, states: torch.Tensor, actions: torch.Tensor, goals: torch.Tensor) -> dict[str, float]:  # fmt: skip
        """One discriminator step then one generator step of every GAN, each on its own batch."""
        hp = self.hp
        with torch.no_grad():
            fake_s, fake_a = self.rollout(states[:, :, 0], goals)
        loss_d = discriminator_loss(self.trajectory_scores(states, actions, goals),
                                    self.trajectory_scores(fake_s, fake_a, goals))  # fmt: skip
        total_d = loss_d + hp.l2_disc * l2_sum(self.disc)
        self.opt_disc.zero_grad(set_to_none=True)
        total_d.backward()
        self.opt_disc.step()

        fake_s, fake_a = self.rollout(states[:, :, 0], goals)
        loss_g = generator_adversarial_loss(self.trajectory_scores(fake_s, fake_a, goals))
        total_g = loss_g + hp.l2_gen * l2_sum(self.gen)
        loss_m = torch.zeros((), device=self.device)
        if hp.reg_gan_with_osm:
            loss_m = self.model_loss(fake_s, fake_a)
            total_g = total_g + hp.gan_model_l2 * loss_m
        self.opt_gen.zero_grad(set_to_none=True)
        total_g.backward()
        self.opt_gen.step()
        self.disc.zero_grad(set_to_none=True)  # the generator's backward reached D's weights
        E = hp.num_gans
        return {"loss_d": loss_d.item() / E, "loss_g": loss_g.item() / E, "loss_model": loss_m.item() / E}  # fmt: skip

    def osm_step(self, buffer: ReplayBuffer, rng: np.random.Generator) -> float:
        """One step of every OSM, each on its own batch of single transitions."""
        hp = self.hp
        s_scaler, d_scaler, _ = self._scalers()
        s, a, s2 = buffer.sample_transitions(hp.num_osms * hp.osm_batch_size, rng, hp.sample_noise)
        shape = (hp.num_osms, hp.osm_batch_size, -1)
        s_t, a_t, s2_t = (self.tensor(v).reshape(shape) for v in (s, a, s2))
        target = d_scaler.transform(s2_t - s_t)
        pred = self.osm(s_scaler.transform(s_t), a_t)
        loss = ((pred - target) ** 2).mean(dim=(1, 2)).sum()
        self.opt_osm.zero_grad(set_to_none=True)
        (loss + hp.l2_osm * l2_sum(self.osm)).backward()
        self.opt_osm.step()
        return loss.item() / hp.num_osms

    def train_iteration(self, buffer: ReplayBuffer, rng: np.random.Generator, gan: bool = True, osm: bool = True) -> dict[str, float]:  # fmt: skip
        """One iteration: a step of each GAN (own batch) and of each OSM (own batch)."""
        self.gen.train()
        self.disc.train()
        out: dict[str, float] = {}
        if gan:
            out.update(self.gan_step(*self.gan_tensors(buffer, rng)))
        if osm:
            out["loss_osm"] = self.osm_step(buffer, rng)
        return out

    # -- planning ---------------------------------------------------------------------------
    def _gen_assigned(self, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One generator step for rows ``(N, .)``, each with a random GAN (eval mode)."""
        n = x.shape[0]
        assign = self.randint(self.hp.num_gans, n)
        z = self.randn(n, self.hp.latent_dim)
        (zg, xg, gg), index, mask = by_member(self.hp.num_gans, assign, z, x, g)
        a, x_next = self.gen(zg, xg, gg)
        return scatter_rows(a, index, mask, n), scatter_rows(x_next, index, mask, n)

    def _osm_assigned(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The OSMs' normalised next states for rows ``(N, .)``, each with a random OSM."""
        n = x.shape[0]
        assign = self.randint(self.hp.num_osms, n)
        (xo, ao), index, mask = by_member(self.hp.num_osms, assign, x, a)
        return self.osm_next(x, a, scatter_rows(self.osm(xo, ao), index, mask, n))

    @torch.no_grad()
    def plan(self, state: np.ndarray, goal: np.ndarray) -> PlanResult:
        """PlanGAN's ``generate_next_action`` (one repetition, one iteration) for one state."""
        hp = self.hp
        s_scaler, _, g_scaler = self._scalers()
        self.gen.eval()
        K, C, T = hp.plan_num_init_acs, hp.plan_num_copies, hp.plan_horizon
        x = s_scaler.transform(self.tensor(state)).reshape(1, -1)
        goal_raw = self.tensor(goal)
        g = g_scaler.transform(goal_raw).reshape(1, -1)
        candidates, _ = self._gen_assigned(x.expand(K, -1), g.expand(K, -1))
        n = K * C
        acts = candidates.repeat_interleave(C, dim=0)
        gn = g.expand(n, -1)
        xs = self._osm_assigned(x.expand(n, -1), acts)
        positions = [s_scaler.inverse(xs)[:, self.object_slice]]
        n_osm = round(hp.planner_osm_frac * n)
        for _ in range(T - 1):
            a, x_next = self._gen_assigned(xs, gn)
            if n_osm > 0:
                rows = torch.randperm(n, generator=self.rng, device=self.device)[:n_osm]
                x_next[rows] = self._osm_assigned(xs[rows], a[rows])
            xs = x_next
            positions.append(s_scaler.inverse(xs)[:, self.object_slice])
        per_rollout = goal_fraction(torch.stack(positions), goal_raw, hp.plan_tol)
        scores = per_rollout.reshape(K, C).mean(1)
        action = choose_action(candidates, scores, hp.plan_average_ac, hp.plan_alpha)
        return PlanResult(action.cpu().numpy().astype(np.float64), candidates.cpu().numpy(), scores.cpu().numpy())  # fmt: skip

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        scalers = {name: getattr(self, name).state_dict() if getattr(self, name) is not None else None
                   for name in ("state_scaler", "diff_scaler", "goal_scaler")}  # fmt: skip
        return {
            "gen": self.gen.state_dict(), "disc": self.disc.state_dict(), "osm": self.osm.state_dict(),
            "opt_gen": self.opt_gen.state_dict(), "opt_disc": self.opt_disc.state_dict(),
            "opt_osm": self.opt_osm.state_dict(), "rng": self.rng.get_state(), "scalers": scalers,
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("gen", "disc", "osm", "opt_gen", "opt_disc", "opt_osm"):
            getattr(self, name).load_state_dict(state[name])
        self.rng.set_state(state["rng"].cpu())
        for name, value in state["scalers"].items():
            setattr(self, name, Scaler.from_state(value, self.device) if value is not None else None)  # fmt: skip
