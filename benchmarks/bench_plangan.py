"""PlanGAN speed: batched ensembles against a plain per-member loop of the same networks.

One run measures, on this machine and at the ``paper`` preset's sizes by default (3 GANs, 3 OSMs, 512-wide
layers, GAN batch 128 x tau 5, OSM batch 256, planning K 25 x C 100 rollouts x 50 steps;
``--preset reduced``: the reduced and short presets' 1 GAN, 1 OSM and K 5 x C 20):

* training iterations per second (one step of every GAN and every OSM, each on its own batch);
* planning time per env step (one ``plan`` call);

for :class:`baselines.plangan.model.PlanGAN` (members stacked, one ``baddbmm`` per layer for all
members; all K x C rollouts of a planning step in one batch) and for a loop over single-member
copies of the same networks (one forward/backward per member, the rollouts of each member
selected by a mask). Run: ``python benchmarks/bench_plangan.py [--device cuda] [--iters N] [--hidden W] [--preset reduced]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from baselines.plangan.buffer import ReplayBuffer
from baselines.plangan.config import PlanGANHyperparameters, preset_values
from baselines.plangan.model import (
    PlanGAN,
    choose_action,
    discriminator_loss,
    generator_adversarial_loss,
    goal_fraction,
)
from baselines.plangan.networks import l2_sum

STATE, ACTION, GOAL = 24, 4, 3


def synthetic_buffer(rng: np.random.Generator, paths: int = 100, length: int = 50) -> ReplayBuffer:
    buf = ReplayBuffer(paths * length, STATE, ACTION, GOAL)
    for _ in range(paths):
        walk = np.cumsum(rng.normal(0, 0.02, size=(length + 1, STATE)), axis=0)
        buf.add_path(walk[:-1], rng.uniform(-1, 1, (length, ACTION)), walk[1:], walk[:-1, 3:6])
    return buf


class LoopPlanGAN:
    """The same networks as single-member ensembles, run one member at a time."""

    def __init__(self, hp: PlanGANHyperparameters, device: str) -> None:
        single = dataclasses.replace(hp, num_gans=1, num_osms=1)
        self.hp = hp
        self.members = [PlanGAN(single, STATE, ACTION, GOAL, device, seed=k) for k in range(max(hp.num_gans, hp.num_osms))]  # fmt: skip
        self.lead = self.members[0]

    def share_scalers(self, model: PlanGAN) -> None:
        for m in self.members:
            m.state_scaler, m.diff_scaler, m.goal_scaler = model._scalers()

    def osm_mean(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        preds = [m.osm(x, a, detach=True) for m in self.members[: self.hp.num_osms]]
        return torch.stack(preds).mean(0)

    def train_iteration(self, buffer: ReplayBuffer, rng: np.random.Generator) -> None:
        hp = self.hp
        s_scaler, d_scaler, _ = self.lead._scalers()
        for m in self.members[: hp.num_gans]:
            m.gen.train()
            states, actions, goals = m.gan_tensors(buffer, rng)
            with torch.no_grad():
                fs, fa = m.rollout(states[:, :, 0], goals)
            loss_d = discriminator_loss(m.trajectory_scores(states, actions, goals), m.trajectory_scores(fs, fa, goals))  # fmt: skip
            m.opt_disc.zero_grad(set_to_none=True)
            (loss_d + hp.l2_disc * l2_sum(m.disc)).backward()
            m.opt_disc.step()
            fs, fa = m.rollout(states[:, :, 0], goals)
            loss_g = generator_adversarial_loss(m.trajectory_scores(fs, fa, goals))
            x = fs[:, :, :-1].reshape(1, -1, STATE)
            target = d_scaler.transform(s_scaler.inverse(fs[:, :, 1:]) - s_scaler.inverse(fs[:, :, :-1]))  # fmt: skip
            pred = self.osm_mean(x, fa.reshape(1, -1, ACTION)).reshape(target.shape)
            loss_m = ((pred - target) ** 2).mean()
            m.opt_gen.zero_grad(set_to_none=True)
            (loss_g + hp.gan_model_l2 * loss_m + hp.l2_gen * l2_sum(m.gen)).backward()
            m.opt_gen.step()
        for m in self.members[: hp.num_osms]:
            m.osm_step(buffer, rng)

    def _gen(self, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assign = self.lead.randint(self.hp.num_gans, len(x))
        a_out = x.new_empty(len(x), ACTION)
        x_out = torch.empty_like(x)
        for j, m in enumerate(self.members[: self.hp.num_gans]):
            rows = assign == j
            z = self.lead.randn(int(rows.sum()), self.hp.latent_dim)
            a, xn = m.gen(z.unsqueeze(0), x[rows].unsqueeze(0), g[rows].unsqueeze(0))
            a_out[rows], x_out[rows] = a[0], xn[0]
        return a_out, x_out

    def _osm(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        assign = self.lead.randint(self.hp.num_osms, len(x))
        out = torch.empty_like(x)
        for j, m in enumerate(self.members[: self.hp.num_osms]):
            rows = assign == j
            out[rows] = m.osm(x[rows].unsqueeze(0), a[rows].unsqueeze(0))[0]
        return self.lead.osm_next(x, a, out)

    @torch.no_grad()
    def plan(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        hp = self.hp
        s_scaler, _, g_scaler = self.lead._scalers()
        for m in self.members:
            m.gen.eval()
        K, C, T = hp.plan_num_init_acs, hp.plan_num_copies, hp.plan_horizon
        x = s_scaler.transform(self.lead.tensor(state)).reshape(1, -1)
        goal_raw = self.lead.tensor(goal)
        g = g_scaler.transform(goal_raw).reshape(1, -1)
        cands, _ = self._gen(x.expand(K, -1), g.expand(K, -1))
        acts = cands.repeat_interleave(C, 0)
        gn = g.expand(K * C, -1)
        xs = self._osm(x.expand(K * C, -1), acts)
        positions = [s_scaler.inverse(xs)[:, 3:6]]
        for _ in range(T - 1):
            _, xs = self._gen(xs, gn)
            positions.append(s_scaler.inverse(xs)[:, 3:6])
        scores = goal_fraction(torch.stack(positions), goal_raw, hp.plan_tol).reshape(K, C).mean(1)
        return choose_action(cands, scores, hp.plan_average_ac, hp.plan_alpha).cpu().numpy()


def timed(fn: object, repeats: int, sync: bool) -> float:
    assert callable(fn)
    fn()  # warm-up
    if sync:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if sync:
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def timing_parser(description: str) -> argparse.ArgumentParser:
    """The options every PlanGAN benchmark takes: device, threads, timed iterations and plans."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iters", type=int, default=5, help="timed training iterations")
    parser.add_argument("--plans", type=int, default=2, help="timed planning calls")
    return parser


def main() -> None:
    parser = timing_parser(__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=512, help="layer width (paper: 512)")
    parser.add_argument("--preset", choices=("paper", "reduced"), default="paper",
                        help="ensemble and planner sizes (FetchPush): paper 3 + 3, 25 x 100; reduced (and short) 1 + 1, 5 x 20")  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hp = PlanGANHyperparameters(**{**preset_values(args.preset, "push"), "hidden": (args.hidden, args.hidden)})  # fmt: skip
    rng = np.random.default_rng(0)
    buffer = synthetic_buffer(rng)
    model = PlanGAN(hp, STATE, ACTION, GOAL, args.device, seed=0)
    model.fit_scalers(buffer, rng)
    loop = LoopPlanGAN(hp, args.device)
    loop.share_scalers(model)
    state, goal = buffer.obs[0], buffer.ag[30]
    sync = args.device.startswith("cuda")
    t_train_b = timed(lambda: model.train_iteration(buffer, rng), args.iters, sync)
    t_train_l = timed(lambda: loop.train_iteration(buffer, rng), args.iters, sync)
    t_plan_b = timed(lambda: model.plan(state, goal), args.plans, sync)
    t_plan_l = timed(lambda: loop.plan(state, goal), args.plans, sync)
    print(f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{hp.num_gans} GANs + {hp.num_osms} OSMs, hidden {hp.hidden}, planning {hp.plan_num_init_acs} x {hp.plan_num_copies} x {hp.plan_horizon}")  # fmt: skip
    print(f"{'':28s}{'batched':>12s}{'loop':>12s}{'speed-up':>10s}")
    print(f"{'training iterations / s':28s}{1 / t_train_b:12.2f}{1 / t_train_l:12.2f}{t_train_l / t_train_b:9.2f}x")  # fmt: skip
    print(f"{'planning s / env step':28s}{t_plan_b:12.3f}{t_plan_l:12.3f}{t_plan_l / t_plan_b:9.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
