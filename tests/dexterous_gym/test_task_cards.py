"""The env classes' docstrings are their task cards: sections in Gymnasium's order, and tables
that agree with the task table, the models and the observations."""

from __future__ import annotations

import inspect
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import dexterous_gym
from dexterous_gym.envs import PenReorientationEnv, PenSpinEnv, TwoHandsEnv
from dexterous_gym.tasks import family_table

SECTIONS = [
    "## Description",
    "## Action Space",
    "## Observation Space",
    "## Rewards",
    "## Starting State",
    "## Episode End",
    "## Arguments",
    "## Version History",
]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "dexterous_gym.md"


def _card(cls: type) -> str:
    return inspect.cleandoc(cls.__doc__ or "")


def _table(card: str, header_start: str) -> list[list[str]]:
    """The body rows (cells stripped) of the Markdown table whose header starts as given."""
    lines = card.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _span(cell: str) -> slice:
    lo, _, hi = cell.partition("-")
    return slice(int(lo), int(hi or lo) + 1)


@pytest.mark.parametrize("cls", [TwoHandsEnv, PenSpinEnv, PenReorientationEnv])
def test_cards_have_the_gymnasium_sections_in_order(cls: type) -> None:
    card = _card(cls)
    positions = [card.find(section) for section in SECTIONS]
    assert -1 not in positions, [s for s, p in zip(SECTIONS, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    assert "Charlesworth & Montana" in card


def test_the_family_table_is_the_task_table_in_the_card_and_the_docs() -> None:
    table = family_table()
    assert table in _card(TwoHandsEnv)
    assert table in DOCS.read_text()


@pytest.mark.parametrize(
    "env_id", ["EggHandOver-v0", "PenCatchOverarm-v0", "TwoEggCatchUnderArm-v0"]
)
def test_family_rows_give_the_spaces_of_every_family(env_id: str) -> None:
    env = gym.make(env_id)
    family = env.unwrapped.family
    row = next(r for r in _table(family_table(), "| Family") if r[0] == family.name)
    assert int(row[4]) == env.action_space.shape[0]
    assert int(row[5]) == env.observation_space["observation"].shape[0]
    assert int(row[3]) == env.unwrapped.n_objects
    env.close()


@pytest.mark.parametrize(
    "cls,env_id",
    [
        (TwoHandsEnv, "EggCatchUnderarm-v0"),
        (PenSpinEnv, "PenSpin-v0"),
        (PenReorientationEnv, "PenReorientation-v0"),
    ],
)
def test_action_tables_match_the_actuators(cls: type, env_id: str) -> None:
    model = gym.make(env_id).unwrapped.model
    rows = [r for r in _table(_card(cls), "| Num | Action") if r[0].isdigit()]
    assert [int(r[0]) for r in rows] == list(range(20))
    for row in rows:
        i = int(row[0])
        assert row[4].strip("`") == model.actuator(i).name
        np.testing.assert_allclose([float(row[2]), float(row[3])], model.actuator_ctrlrange[i])


def _joint_slices(model, hand_suffix: bool) -> tuple[np.ndarray, np.ndarray]:
    joints = [
        j
        for j in range(model.njnt)
        if model.joint(j).name.startswith("robot")
        and model.joint(j).name.endswith("_2") == hand_suffix
    ]
    return model.jnt_qposadr[joints], model.jnt_dofadr[joints]


@pytest.mark.parametrize(
    "env_id,column",
    [("EggHandOver-v0", 0), ("BlockCatchUnderarm-v0", 1), ("TwoPenCatchUnderArm-v0", 2)],
)
def test_the_observation_table_indexes_the_observation(env_id: str, column: int) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    obs, *_ = env.step(env.action_space.sample())
    u = env.unwrapped
    qpos, qvel, model = u.data.qpos, u.data.qvel, u.model
    parts = {}
    for hand, suffix in ((1, False), (2, True)):
        q, v = _joint_slices(model, suffix)
        parts[f"hand {hand} joint positions"] = qpos[q]
        parts[f"hand {hand} joint velocities"] = qvel[v]
    objects = []
    for name in ("object", "object_2")[: u.n_objects]:
        q, v = model.joint(f"{name}:joint").qposadr[0], model.joint(f"{name}:joint").dofadr[0]
        objects.append(
            {
                "object position": qpos[q : q + 3],
                "object orientation": qpos[q + 3 : q + 7],
                "object linear velocity": qvel[v : v + 3],
                "object angular velocity": qvel[v + 3 : v + 6],
            }
        )
    parts.update(objects[0])
    if len(objects) == 2:
        parts["object 2"] = np.concatenate(list(objects[1].values()))
    rows = _table(_card(TwoHandsEnv), "| Num (HandOver)")
    covered = 0
    for row in rows:
        if not row[column]:
            continue
        key = next(k for k in parts if row[3].startswith(k))
        np.testing.assert_array_equal(
            obs["observation"][_span(row[column])], parts[key], err_msg=key
        )
        covered += parts[key].size
    assert covered == obs["observation"].size
    env.close()


@pytest.mark.parametrize(
    "cls,env_id", [(PenSpinEnv, "PenSpin-v0"), (PenReorientationEnv, "PenReorientation-v0")]
)
def test_the_pen_observation_tables_index_the_observation(cls: type, env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    obs, *_ = env.step(env.action_space.sample())
    if isinstance(obs, dict):
        obs = obs["observation"]
    u = env.unwrapped
    pen = u.model.joint("object:joint")
    q, v = pen.qposadr[0], pen.dofadr[0]
    parts = {
        "hand joint positions": u.data.qpos[:24],
        "hand joint velocities": u.data.qvel[:24],
        "pen linear velocity": u.data.qvel[v : v + 3],
        "pen angular velocity": u.data.qvel[v + 3 : v + 6],
        "pen position": u.data.qpos[q : q + 3],
        "pen orientation": u.data.qpos[q + 3 : q + 7],
    }
    rows = _table(_card(cls), "| Num | Observation")
    assert sum(_span(r[0]).stop - _span(r[0]).start for r in rows) == obs.size
    for row in rows:
        key = next(k for k in parts if row[1].startswith(k))
        np.testing.assert_array_equal(obs[_span(row[0])], parts[key], err_msg=key)
    env.close()


def test_no_docstring_cites_files_users_do_not_have() -> None:
    package = Path(dexterous_gym.__file__).parent
    for path in package.rglob("*.py"):
        text = path.read_text().lower()
        for phrase in ("fact sheet", "unverified", "/work/"):
            assert phrase not in text, f"{path.name} cites {phrase!r}"
