"""The budget curve: TOPDM and MPPI success against env steps simulated per trajectory.

    python -m baselines.topdm.report --budget-curve CAMPAIGN... --plot FIG.png --out TABLE.md

Each CAMPAIGN is a folder of ``python -m baselines.topdm.campaign`` (TOPDM, or MPPI with
``--mppi``), typically one per planner and ``--set n_samples=N``; all must be of one env.
Trajectories are grouped by planner and by the env steps one trajectory simulates
(:func:`~baselines.topdm.config.simulated_steps` of its run's settings). Per group: success at
the last control step with a 95 % Wilson interval and the mean return over the finished
trajectories (unfinished ones are listed, not counted). Per budget run with both planners:
Fisher's exact test on the successes of the seeds both planners finished at that budget
(two-sided, and one-sided for "TOPDM succeeds more often than MPPI"). Then the smallest budget at
which TOPDM's success rate reaches 0.8, and at each budget whether TOPDM beats MPPI (one-sided
p < 0.05). Charlesworth & Montana (ICML 2021) compare the planners at the paper's budget only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baselines.common.runfolder import atomic_write, read_json, write_json
from baselines.topdm.config import TopdmConfig, make_config, planner_name, simulated_steps
from baselines.topdm.folder import RUN_CONFIG
from baselines.topdm.report import _steps, read_trajectory

TARGET_SUCCESS = 0.8  # the success rate whose smallest budget the curve states
ALPHA = 0.05  # one-sided level of "TOPDM beats MPPI at equal budget"
PLANNERS = ("topdm", "mppi")

# Success rates at the paper's budget (its `paper` preset; MPPI at kappa = 20), read by eye
# (about +-0.02) from the result figures on the project website of Charlesworth & Montana,
# "Solving Challenging Dexterous Manipulation Tasks With Trajectory Optimisation and
# Reinforcement Learning", ICML 2021.
PAPER_CURVE_POINTS: dict[str, dict[str, float]] = {
    "EggHandOver-v0": {"topdm": 0.98, "mppi": 0.19},
}


class BudgetCurveError(ValueError):
    """The campaigns cannot make a budget curve (one line, naming what is wrong)."""


@dataclass
class BudgetGroup:
    """The trajectories of one planner at one budget (env steps simulated per trajectory)."""

    planner: str
    env_steps_per_trajectory: int
    campaigns: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)  # finished trajectories, ascending
    successes_by_seed: dict[int, bool] = field(default_factory=dict)
    returns: list[float] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # "seed S (steps/L)" per unfinished one
    planner_config: dict[str, Any] = field(default_factory=dict)  # the settings its runs share

    @property
    def n(self) -> int:
        return len(self.seeds)

    @property
    def successes(self) -> int:
        return sum(self.successes_by_seed.values())

    def row(self) -> dict[str, Any]:
        """The group as a table row: counts, rate, its 95 % Wilson interval, mean return."""
        from scipy.stats import binomtest

        ci = binomtest(self.successes, self.n).proportion_ci(0.95, method="wilson") if self.n else None  # fmt: skip
        return {
            "planner": self.planner,
            "env_steps_per_trajectory": self.env_steps_per_trajectory,
            "n": self.n,
            "successes": self.successes,
            "success_rate": self.successes / self.n if self.n else None,
            "ci95": [float(ci.low), float(ci.high)] if ci is not None else None,
            "mean_return": sum(self.returns) / self.n if self.n else None,
            "seeds": list(self.seeds),
            "unfinished": list(self.unfinished),
            "campaigns": list(self.campaigns),
        }


def _read_campaign(folder: Path) -> tuple[str, dict[str, Any]]:
    """A campaign's planner and settings (``OUT/config.json``); refuses other folders."""
    from baselines.topdm.campaign import CAMPAIGN_FILE  # the env stack: only when asked

    settings_file = folder / CAMPAIGN_FILE
    try:
        settings = json.loads(settings_file.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise BudgetCurveError(
            f"{folder}: not a campaign folder of python -m baselines.topdm.campaign "
            f"(no readable {CAMPAIGN_FILE}: {type(err).__name__})"
        ) from None
    if not isinstance(settings, dict) or settings.get("campaign") != "topdm" or not isinstance(settings.get("envs"), list):  # fmt: skip
        raise BudgetCurveError(
            f"{folder}: not a campaign folder of python -m baselines.topdm.campaign "
            f"({settings_file.name} has no 'campaign': 'topdm' and 'envs')"
        )
    return planner_name(bool(settings.get("mppi"))), settings


def _budget(run_dir: Path, run_config: dict[str, Any]) -> int:
    """Env steps one trajectory of the run simulates. Settings that today's checks refuse (the
    old degenerate ``campaign`` preset) are read as they are: their budget is still defined."""
    try:
        config = TopdmConfig.from_dict({**run_config["planner_config"], "allow_degenerate": True})
    except (KeyError, TypeError, ValueError) as err:
        raise BudgetCurveError(
            f"{run_dir / RUN_CONFIG}: unreadable planner settings ({type(err).__name__}: {err})"
        ) from None
    return simulated_steps(config)


def collect_groups(campaigns: Sequence[str | Path]) -> tuple[str, list[BudgetGroup]]:
    """The env and the (planner, budget) groups of the campaigns, by budget then planner.

    Raises :class:`BudgetCurveError` for a folder that is not a campaign, campaigns of more than
    one env, campaigns of one planner and budget with different settings, a seed given twice for
    one planner and budget, or no finished trajectory at all.
    """
    read = [(Path(c), *_read_campaign(Path(c))) for c in campaigns]
    envs: dict[str, str] = {}  # each env with the first campaign that has it
    for folder, _, settings in read:
        for env in settings["envs"]:
            envs.setdefault(str(env), str(folder))
    if len(envs) != 1:
        named = ", ".join(f"{env} ({folder})" for env, folder in envs.items()) or "none"
        raise BudgetCurveError(f"a budget curve is of one env; the campaigns have: {named}")
    (env_id,) = envs
    groups: dict[tuple[str, int], BudgetGroup] = {}
    seen: dict[tuple[str, int, int], Path] = {}
    for folder, planner, _ in read:
        run_dir = folder / env_id
        try:
            run_config = read_json(run_dir / RUN_CONFIG, expect=dict)
            seed0, count = int(run_config["seed"]), int(run_config["trajectories"])
        except (FileNotFoundError, ValueError, KeyError, TypeError) as err:
            raise BudgetCurveError(f"{run_dir}: not a campaign's env folder ({type(err).__name__}: {err})") from None  # fmt: skip
        budget = _budget(run_dir, run_config)
        settings = dict(run_config["planner_config"])
        group = groups.setdefault((planner, budget), BudgetGroup(planner, budget, planner_config=settings))  # fmt: skip
        if settings != group.planner_config:  # one point of the curve is one planner setting
            differ = sorted(k for k in settings.keys() | group.planner_config.keys()
                            if settings.get(k) != group.planner_config.get(k))  # fmt: skip
            raise BudgetCurveError(
                f"{folder} and {group.campaigns[0]}: {planner} at {budget} env steps per "
                f"trajectory with different settings ({', '.join(differ)}): one point of the "
                "curve is one setting; give them separately"
            )
        group.campaigns.append(str(folder))
        traj_len = run_config["planner_config"].get("traj_len")
        for index in range(count):
            seed, path = seed0 + index, run_dir / f"traj_{index:03d}"
            if (planner, budget, seed) in seen:
                raise BudgetCurveError(
                    f"seed {seed} of {planner} at {budget} env steps per trajectory is in two "
                    f"campaigns ({seen[planner, budget, seed]}, {folder}): give each seed once"
                )
            seen[planner, budget, seed] = folder
            row = read_trajectory(path) if path.is_dir() else None
            if row is None or not row["finished"]:
                steps = 0 if row is None else row["steps"]
                group.unfinished.append(f"seed {seed} ({steps}/{traj_len} steps)")
                continue
            group.seeds.append(seed)
            group.successes_by_seed[seed] = bool(row["success_final"])
            group.returns.append(float(row["return"]))
    if not any(g.n for g in groups.values()):
        raise BudgetCurveError(
            f"no finished trajectories in {', '.join(str(f) for f, _, _ in read)}: nothing to count yet"
        )
    for group in groups.values():
        order = sorted(range(group.n), key=group.seeds.__getitem__)
        group.seeds = [group.seeds[i] for i in order]
        group.returns = [group.returns[i] for i in order]
    ordered = sorted(groups.values(), key=lambda g: (g.env_steps_per_trajectory, PLANNERS.index(g.planner)))  # fmt: skip
    return env_id, ordered


def fisher_row(topdm: BudgetGroup, mppi: BudgetGroup) -> dict[str, Any]:
    """Fisher's exact test at one budget over the seeds both planners finished: the table
    [[TOPDM successes, failures], [MPPI successes, failures]]; ``p_topdm_greater`` is one-sided for
    TOPDM succeeding more often (odds ratio > 1)."""
    from scipy.stats import fisher_exact

    paired = sorted(set(topdm.seeds) & set(mppi.seeds))
    k_topdm = sum(topdm.successes_by_seed[s] for s in paired)
    k_mppi = sum(mppi.successes_by_seed[s] for s in paired)
    table = [[k_topdm, len(paired) - k_topdm], [k_mppi, len(paired) - k_mppi]]
    p_two = p_greater = None
    if paired:
        p_two = float(fisher_exact(table, alternative="two-sided").pvalue)
        p_greater = float(fisher_exact(table, alternative="greater").pvalue)
    return {
        "env_steps_per_trajectory": topdm.env_steps_per_trajectory,
        "pairs": len(paired),
        "paired_seeds": paired,
        "table": table,
        "p_two_sided": p_two,
        "p_topdm_greater": p_greater,
        "topdm_beats_mppi": p_greater is not None and p_greater < ALPHA,
    }


def budget_curve(campaigns: Sequence[str | Path]) -> dict[str, Any]:
    """Everything the table, its JSON and the figure show (see the module's docstring)."""
    return summarise(*collect_groups(campaigns))


def summarise(env_id: str, groups: Sequence[BudgetGroup]) -> dict[str, Any]:
    """The curve of ``groups`` (ordered by budget, then planner) of ``env_id``."""
    rows = [g.row() for g in groups]
    by_key = {(g.planner, g.env_steps_per_trajectory): g for g in groups}
    budgets = sorted({g.env_steps_per_trajectory for g in groups})
    fisher = [
        fisher_row(by_key["topdm", b], by_key["mppi", b])
        for b in budgets
        if ("topdm", b) in by_key and ("mppi", b) in by_key
    ]
    reached = [r for r in rows if r["planner"] == "topdm" and r["n"] and r["success_rate"] >= TARGET_SUCCESS]  # fmt: skip
    statements = [_target_statement(reached[0] if reached else None, rows)]
    tested = {f["env_steps_per_trajectory"]: f for f in fisher}
    for b in budgets:
        statements.append(_comparison_statement(b, tested.get(b), by_key))
    paper = PAPER_CURVE_POINTS.get(env_id)
    paper_point = None
    if paper is not None:
        paper_budget = simulated_steps(make_config("paper", env_id))
        paper_point = {"env_steps_per_trajectory": paper_budget, "success_rate": dict(paper),
                       "source": "read from the paper's figures"}  # fmt: skip
    smallest = reached[0]["env_steps_per_trajectory"] if reached else None
    return {
        "env_id": env_id,
        "groups": rows,
        "fisher": fisher,
        "smallest_budget_topdm_reaches": smallest,
        "target_success": TARGET_SUCCESS,
        "alpha": ALPHA,
        "statements": statements,
        "paper": paper_point,
    }


def _target_statement(row: dict[str, Any] | None, rows: list[dict[str, Any]]) -> str:
    if row is not None:
        return (
            f"TOPDM's success rate first reaches {TARGET_SUCCESS} at {_steps(row['env_steps_per_trajectory'])} "
            f"env steps per trajectory ({row['successes']}/{row['n']} = {row['success_rate']:.2f})."
        )  # fmt: skip
    topdm = [r for r in rows if r["planner"] == "topdm" and r["n"]]
    if not topdm:
        return f"TOPDM's success rate reaches {TARGET_SUCCESS} at none of the budgets: no finished TOPDM trajectories."  # fmt: skip
    best = max(topdm, key=lambda r: r["success_rate"])
    return (
        f"TOPDM's success rate reaches {TARGET_SUCCESS} at none of the budgets (highest: "
        f"{best['successes']}/{best['n']} = {best['success_rate']:.2f} at {_steps(best['env_steps_per_trajectory'])})."
    )  # fmt: skip


def _comparison_statement(budget: int, fisher: dict[str, Any] | None, by_key: dict[tuple[str, int], BudgetGroup]) -> str:  # fmt: skip
    at = f"At {_steps(budget)} env steps per trajectory"
    if fisher is None:
        only = [p.upper() for p in PLANNERS if (p, budget) in by_key]
        return f"{at}: only {' and '.join(only)} was run; no comparison."
    if fisher["pairs"] == 0:
        return f"{at}: no seed finished by both planners; no comparison."
    # p >= ALPHA does not show the planners equal, only that these seeds cannot tell them apart
    verdict = (
        "TOPDM beats MPPI" if fisher["topdm_beats_mppi"] else "not shown that TOPDM beats MPPI"
    )
    sign = "<" if fisher["topdm_beats_mppi"] else ">="
    (k_t, _), (k_m, _) = fisher["table"]
    return (
        f"{at}: {verdict} (TOPDM {k_t}/{fisher['pairs']}, MPPI {k_m}/{fisher['pairs']} on "
        f"{fisher['pairs']} paired seed{'' if fisher['pairs'] == 1 else 's'}; Fisher's exact test, one-sided p = "
        f"{fisher['p_topdm_greater']:.3g} {sign} {ALPHA})."
    )


def format_budget_table(curve: dict[str, Any]) -> str:
    """The curve as Markdown: one row per planner and budget, the Fisher rows, the statements."""
    lines = [
        f"Budget curve on {curve['env_id']}: success at the last control step.",
        "",
        "| planner | env steps / trajectory | finished | successes | success rate | 95 % CI (Wilson) "
        "| mean return | unfinished (not counted) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in curve["groups"]:
        rate = "-" if r["success_rate"] is None else f"{r['success_rate']:.2f}"
        ci = "-" if r["ci95"] is None else f"[{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]"
        ret = "-" if r["mean_return"] is None else f"{r['mean_return']:.2f}"
        lines.append(
            f"| {r['planner']} | {_steps(r['env_steps_per_trajectory'])} | {r['n']} | {r['successes']} "
            f"| {rate} | {ci} | {ret} | {', '.join(r['unfinished']) or '-'} |"
        )  # fmt: skip
    if curve["fisher"]:
        lines += [
            "",
            "| env steps / trajectory | paired seeds | TOPDM successes | MPPI successes "
            "| Fisher p (two-sided) | Fisher p (TOPDM > MPPI) |",
            "|---|---|---|---|---|---|",
        ]
        for f in curve["fisher"]:
            (k_t, _), (k_m, _) = f["table"]
            p2 = "-" if f["p_two_sided"] is None else f"{f['p_two_sided']:.3g}"
            p1 = "-" if f["p_topdm_greater"] is None else f"{f['p_topdm_greater']:.3g}"
            lines.append(
                f"| {_steps(f['env_steps_per_trajectory'])} | {f['pairs']} | {k_t} | {k_m} | {p2} | {p1} |"
            )  # fmt: skip
    paper = curve["paper"]
    if paper is not None:
        rates = ", ".join(f"{p.upper()} {v:.2f}" for p, v in paper["success_rate"].items())
        lines += ["", f"Paper ({paper['source']}), at {_steps(paper['env_steps_per_trajectory'])}: {rates}."]  # fmt: skip
    lines += [""] + [f"- {s}" for s in curve["statements"]]
    return "\n".join(lines) + "\n"


def write_budget_table(curve: dict[str, Any], out: Path) -> str:
    """``out`` (Markdown) and the same as JSON beside it (``.json``), atomically."""
    text = format_budget_table(curve)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda handle: handle.write(text.encode()))
    write_json(out.with_suffix(".json"), curve)
    return text


def plot_budget_curve(curve: dict[str, Any], path: Path) -> None:
    """Success rate with 95 % Wilson bars against env steps per trajectory (log x), one line
    per planner; the paper's points where known for the env."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"topdm": "tab:blue", "mppi": "tab:orange"}
    # the planners' points sit a few per cent apart on the log axis so that their bars stay apart
    shift = {"topdm": 0.97, "mppi": 1.03}
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for planner in PLANNERS:
        rows = [r for r in curve["groups"] if r["planner"] == planner and r["n"]]
        if not rows:
            continue
        x = [r["env_steps_per_trajectory"] * shift[planner] for r in rows]
        y = [r["success_rate"] for r in rows]
        err = [[r["success_rate"] - r["ci95"][0] for r in rows], [r["ci95"][1] - r["success_rate"] for r in rows]]  # fmt: skip
        ax.errorbar(x, y, yerr=err, fmt="o-", color=colours[planner], capsize=4,
                    label=f"{planner.upper()} (95 % Wilson)")  # fmt: skip
        for xi, r in zip(x, rows, strict=True):
            ax.annotate(f"{r['successes']}/{r['n']}", (xi, r["success_rate"]), textcoords="offset points",
                        xytext=(6, -10 if planner == "mppi" else 4), fontsize=7, color=colours[planner])  # fmt: skip
    paper = curve["paper"]
    if paper is not None:
        for k, (planner, rate) in enumerate(paper["success_rate"].items()):
            ax.plot(paper["env_steps_per_trajectory"], rate, "*", ms=12, color=colours.get(planner, "grey"),
                    mec="black", label="paper (read from its figures)" if k == 0 else None)  # fmt: skip
            ax.annotate(planner.upper(), (paper["env_steps_per_trajectory"], rate), textcoords="offset points",
                        xytext=(-12, 8), fontsize=7)  # fmt: skip
    ax.axhline(
        curve["target_success"],
        color="grey",
        ls=":",
        lw=1,
        label=f"success {curve['target_success']}",
    )
    ax.set_xscale("log")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("env steps simulated per trajectory")
    ax.set_ylabel("success rate at the last control step")
    ax.set_title(f"{curve['env_id']}: success against planning budget", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


__all__ = [
    "PAPER_CURVE_POINTS",
    "BudgetCurveError",
    "BudgetGroup",
    "budget_curve",
    "collect_groups",
    "fisher_row",
    "format_budget_table",
    "plot_budget_curve",
    "summarise",
    "write_budget_table",
]
