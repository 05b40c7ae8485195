"""The budget curve (``python -m baselines.topdm.report --budget-curve``): real smoke campaigns of
TOPDM and MPPI at two budgets, grouped, counted and tested against scipy on the same tables."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import binomtest, fisher_exact

from baselines.topdm import report
from baselines.topdm.budget import (
    BudgetCurveError,
    BudgetGroup,
    budget_curve,
    collect_groups,
    summarise,
)
from baselines.topdm.campaign import CampaignConfig, prepare_campaign, run_campaign
from baselines.topdm.config import make_config, simulated_steps
from baselines.topdm.report import read_trajectory

ENV = "EggHandOver-v0"
# (folder, planner is MPPI, n_samples, first seed, trajectories): at N 40 the planners share
# seed 1 only, so the Fisher test there pairs one seed
CAMPAIGNS = [
    ("topdm_n20", False, 20, 0, 3),
    ("mppi_n20", True, 20, 0, 2),
    ("topdm_n40", False, 40, 0, 2),
    ("mppi_n40", True, 40, 1, 2),
]


def cost(n_samples: int) -> int:
    return simulated_steps(make_config("smoke", ENV, n_samples=n_samples))


def campaign_args(out: Path, mppi: bool, n_samples: int, seed: int, count: int, env: str = ENV,
                  overrides: tuple[str, ...] = ()) -> CampaignConfig:  # fmt: skip
    return CampaignConfig(
        envs=(env,), preset="smoke", out=out, trajectories=count, seed=seed, mppi=mppi,
        overrides=(f"n_samples={n_samples}", *overrides), local=True, video=False, refresh=60.0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def campaigns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("budget")
    folders = {}
    with open(os.devnull, "w") as quiet:
        for name, mppi, n_samples, seed, count in CAMPAIGNS:
            run_campaign(campaign_args(root / name, mppi, n_samples, seed, count), stream=quiet)
            folders[name] = root / name
    return folders


def finished(folder: Path) -> dict[int, dict[str, Any]]:
    """The finished trajectories of a campaign by seed, read independently of the budget code."""
    rows = [read_trajectory(p) for p in sorted((folder / ENV).glob("traj_*"))]
    return {int(r["seed"]): r for r in rows if r["finished"]}


def test_groups_by_planner_and_budget_with_wilson_intervals(campaigns: dict[str, Path]) -> None:
    assert cost(20) != cost(40)
    curve = budget_curve(list(campaigns.values()))
    assert curve["env_id"] == ENV
    keys = [(g["planner"], g["env_steps_per_trajectory"]) for g in curve["groups"]]
    assert keys == [("topdm", cost(20)), ("mppi", cost(20)), ("topdm", cost(40)), ("mppi", cost(40))]  # fmt: skip
    for group, (name, _, _, seed, count) in zip(curve["groups"], CAMPAIGNS, strict=True):
        truth = finished(campaigns[name])
        assert group["seeds"] == list(range(seed, seed + count)) == sorted(truth)
        k = sum(bool(r["success_final"]) for r in truth.values())
        assert (group["n"], group["successes"]) == (count, k)
        assert group["success_rate"] == pytest.approx(k / count)
        ci = binomtest(k, count).proportion_ci(0.95, method="wilson")
        assert group["ci95"] == pytest.approx([ci.low, ci.high])
        assert group["mean_return"] == pytest.approx(sum(float(r["return"]) for r in truth.values()) / count)  # fmt: skip
        assert group["unfinished"] == [] and group["campaigns"] == [str(campaigns[name])]


def test_fisher_pairs_the_seeds_both_planners_finished(campaigns: dict[str, Path]) -> None:
    curve = budget_curve(list(campaigns.values()))
    low, high = curve["fisher"]
    assert (low["env_steps_per_trajectory"], low["paired_seeds"]) == (cost(20), [0, 1])
    assert (high["env_steps_per_trajectory"], high["paired_seeds"]) == (cost(40), [1])
    for row, (topdm, mppi) in zip(curve["fisher"], [("topdm_n20", "mppi_n20"), ("topdm_n40", "mppi_n40")], strict=True):  # fmt: skip
        a, b = finished(campaigns[topdm]), finished(campaigns[mppi])
        k_t = sum(bool(a[s]["success_final"]) for s in row["paired_seeds"])
        k_m = sum(bool(b[s]["success_final"]) for s in row["paired_seeds"])
        table = [[k_t, row["pairs"] - k_t], [k_m, row["pairs"] - k_m]]
        assert row["table"] == table
        assert row["p_two_sided"] == pytest.approx(fisher_exact(table).pvalue)
        assert row["p_topdm_greater"] == pytest.approx(fisher_exact(table, alternative="greater").pvalue)  # fmt: skip
        assert row["topdm_beats_mppi"] == (row["p_topdm_greater"] < 0.05)


def test_cli_writes_table_json_and_figure(campaigns: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    fig, out = tmp_path / "curve.png", tmp_path / "tables" / "curve.md"
    assert report.main(["--budget-curve", *map(str, campaigns.values()), "--plot", str(fig), "--out", str(out)]) == 0  # fmt: skip
    assert fig.stat().st_size > 10_000 and fig.read_bytes()[:4] == b"\x89PNG"
    text = out.read_text()
    assert text in capsys.readouterr().out
    data = json.loads(out.with_suffix(".json").read_text())
    assert data == json.loads(json.dumps(budget_curve(list(campaigns.values()))))
    assert data["paper"]["env_steps_per_trajectory"] == simulated_steps(make_config("paper", ENV))
    assert data["paper"]["success_rate"] == {"topdm": 0.98, "mppi": 0.19}
    assert text.count("\n| topdm |") + text.count("\n| mppi |") == 4
    assert f"| {cost(40) / 1e3:.3g} k | 1 |" in text  # the Fisher row at N 40: one pair
    for statement in data["statements"]:
        assert f"- {statement}" in text
    assert len(data["statements"]) == 3  # the 0.8 line, then one per budget


def test_unfinished_trajectories_are_listed_not_counted(campaigns: dict[str, Path], tmp_path: Path) -> None:  # fmt: skip
    copy = tmp_path / "topdm_n20"
    shutil.copytree(campaigns["topdm_n20"], copy)
    (copy / ENV / "traj_001" / "summary.json").unlink()  # read from its checkpoint: unfinished
    shutil.rmtree(copy / ENV / "traj_002")  # not started
    _, groups = collect_groups([copy, campaigns["mppi_n20"]])
    topdm = groups[0]
    assert (topdm.planner, topdm.seeds, topdm.n) == ("topdm", [0], 1)
    assert topdm.unfinished == ["seed 1 (3/3 steps)", "seed 2 (0/3 steps)"]
    assert summarise(ENV, groups)["fisher"][0]["paired_seeds"] == [0]


def group(planner: str, budget: int, outcomes: dict[int, bool]) -> BudgetGroup:
    return BudgetGroup(planner, budget, ["c"], sorted(outcomes), dict(outcomes), [0.0] * len(outcomes))  # fmt: skip


def test_statements_name_the_smallest_budget_and_the_verdicts() -> None:
    groups = [
        group("topdm", 100, {s: s < 3 for s in range(5)}),  # 3/5
        group("mppi", 100, {s: s < 2 for s in range(5)}),  # 2/5
        group("topdm", 200, {s: True for s in range(5)}),  # 5/5
        group("mppi", 200, {s: False for s in range(5)}),  # 0/5: p = 1/252
        group("topdm", 400, {s: s != 0 for s in range(5)}),  # 4/5, reaches 0.8 too, but later
    ]
    curve = summarise(ENV, groups)
    assert curve["smallest_budget_topdm_reaches"] == 200
    first, at_100, at_200, at_400 = curve["statements"]
    assert first.startswith("TOPDM's success rate first reaches 0.8 at 0.2 k env steps per trajectory")  # fmt: skip
    assert "(5/5 = 1.00)" in first
    p_100 = fisher_exact([[3, 2], [2, 3]], alternative="greater").pvalue
    assert "not shown that TOPDM beats MPPI" in at_100 and f"p = {p_100:.3g} >= 0.05" in at_100
    assert "TOPDM beats MPPI" in at_200 and f"p = {1 / 252:.3g} < 0.05" in at_200
    assert "5 paired seeds" in at_200
    assert "only TOPDM was run" in at_400
    none = summarise(ENV, groups[:2])
    assert none["smallest_budget_topdm_reaches"] is None
    assert "reaches 0.8 at none of the budgets (highest: 3/5 = 0.60" in none["statements"][0]
    disjoint = summarise(ENV, [group("topdm", 100, {0: True}), group("mppi", 100, {1: False})])
    assert disjoint["fisher"][0]["pairs"] == 0 and disjoint["fisher"][0]["p_topdm_greater"] is None
    assert "no seed finished by both planners" in disjoint["statements"][1]


def test_refusals_are_one_line_exit_2(campaigns: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    def refused(*folders: Path) -> str:
        assert report.main(["--budget-curve", *map(str, folders)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ")
        return err

    plain = tmp_path / "plain"
    plain.mkdir()
    assert "not a campaign folder" in refused(plain, campaigns["topdm_n20"])
    other = tmp_path / "other_env"
    prepare_campaign(campaign_args(other, False, 20, 0, 1, env="BlockHandOver-v0"))
    err = refused(campaigns["topdm_n20"], other)
    assert "one env" in err and ENV in err and "BlockHandOver-v0" in err
    empty = tmp_path / "empty"
    prepare_campaign(campaign_args(empty, False, 20, 0, 2))
    assert "no finished trajectories" in refused(empty)
    assert "in two campaigns" in refused(campaigns["topdm_n20"], campaigns["topdm_n20"])
    changed = tmp_path / "beta"  # the same budget as topdm_n20, another setting, other seeds
    prepare_campaign(campaign_args(changed, False, 20, 5, 1, overrides=("beta=0.5",)))
    err = refused(campaigns["topdm_n20"], changed)
    assert "different settings (beta)" in err and "topdm_n20" in err
    with pytest.raises(BudgetCurveError, match="one env"):
        collect_groups([campaigns["topdm_n20"], other])
