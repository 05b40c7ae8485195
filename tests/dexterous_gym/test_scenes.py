"""The composed scenes against the numbers of the original Dexterous Gym XML."""

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import dexterous_gym  # noqa: F401
from dexterous_gym import scenes

SIZES = {  # family: (nq, nv, nu, observation size, goal size)
    "HandOver": (62, 60, 40, 109, 7),
    "CatchUnderarm": (74, 72, 52, 133, 7),
    "CatchUnderarmHard": (74, 72, 52, 133, 7),
    "CatchOverarm": (74, 72, 52, 133, 7),
    "TwoCatchUnderarm": (88, 84, 52, 146, 14),
}
IDS = {
    "HandOver": "{}HandOver-v0",
    "CatchUnderarm": "{}CatchUnderarm-v0",
    "CatchUnderarmHard": "{}CatchUnderarmHard-v0",
    "CatchOverarm": "{}CatchOverarm-v0",
    "TwoCatchUnderarm": "Two{}CatchUnderArm-v0",
}


@pytest.mark.parametrize("family", SIZES)
@pytest.mark.parametrize("obj", ["Egg", "Block", "Pen"])
def test_sizes(family, obj):
    nq, nv, nu, n_obs, n_goal = SIZES[family]
    env = gym.make(IDS[family].format(obj))
    model = env.unwrapped.model
    assert (model.nq, model.nv, model.nu) == (nq, nv, nu)
    space = env.observation_space
    assert space["observation"].shape == (n_obs,)
    assert space["achieved_goal"].shape == space["desired_goal"].shape == (n_goal,)
    assert env.action_space.shape == (nu,)
    env.close()


def test_pen_spin_sizes():
    env = gym.make("PenSpin-v0")
    model = env.unwrapped.model
    assert (model.nq, model.nv, model.nu) == (38, 36, 20)
    assert env.observation_space.shape == (61,)
    assert env.action_space.shape == (20,)
    env.close()


def test_actuator_order_hand2_mount_before_hand1_mount():
    model = scenes.two_hand_model("CatchUnderarm", "egg")
    names = [model.actuator(i).name for i in range(model.nu)]
    assert names[0] == "robot0:A_WRJ1" and names[19] == "robot0:A_THJ0"
    assert names[20] == "robot0:A_WRJ1_2" and names[39] == "robot0:A_THJ0_2"
    axes = [
        "Translation_x",
        "Translation_y",
        "Translation_z",
        "Rotation_x",
        "Rotation_y",
        "Rotation_z",
    ]
    assert names[40:46] == [f"A_{a}_2" for a in axes]
    assert names[46:52] == [f"A_{a}" for a in axes]
    gains = model.actuator_gainprm[46:52, 0]
    stiffness = -model.actuator_biasprm[46:52, 1]
    np.testing.assert_array_equal(gains, [100, 100, 40, 500, 200, 200])
    np.testing.assert_array_equal(stiffness, [500, 500, 500, 700, 1000, 1000])


def test_mount_joints_are_unlimited_and_damped_as_the_original():
    model = scenes.two_hand_model("CatchOverarm", "pen")
    names = [model.joint(j).name for j in range(model.njnt)]
    assert names[:6] == [
        "robot_Translation_x",
        "robot_Translation_y",
        "robot_Translation_z",
        "robot_Rotation_x",
        "robot_Rotation_y",
        "robot_Rotation_z",
    ]
    assert names[30:36] == [n + "_2" for n in names[:6]]
    assert not model.jnt_limited[:6].any() and not model.jnt_limited[30:36].any()
    np.testing.assert_array_equal(model.dof_damping[:6], [400, 400, 400, 100, 100, 100])


@pytest.mark.parametrize(
    "family,palm1,palm2",
    [
        ("HandOver", (1, 0.96, 0.14), (1, 0.54, 0.14)),
        ("CatchUnderarm", (1, 1.06, 0.34), (1, 0.29, 0.34)),
        ("CatchUnderarmHard", (1, 1.36, 0.34), (1, -0.01, 0.34)),
        ("CatchOverarm", (1, 1.36, 0.44), (1, -0.01, 0.44)),
    ],
)
def test_palm_positions_at_zero_qpos(family, palm1, palm2):
    model = scenes.two_hand_model(family, "egg")
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    np.testing.assert_allclose(data.body("robot0:palm").xpos, palm1, atol=5e-3)
    np.testing.assert_allclose(data.body("robot0:palm_2").xpos, palm2, atol=5e-3)


def test_object_masses_and_hand_weight():
    for obj, mass in (("egg", 0.150796), ("block", 0.070875), ("pen", 0.042357)):
        model = scenes.two_hand_model("CatchUnderarm", obj)
        assert model.body("object").mass[0] == pytest.approx(mass, abs=1e-6)
    model = scenes.two_hand_model("CatchUnderarm", "egg")
    assert model.body_subtreemass[model.body("robot0:hand mount").id] == pytest.approx(
        5.011, abs=1e-3
    )


def test_overarm_vertical_slide_sags_by_weight_over_stiffness():
    """At zero action the vertical mount slide settles at -m g / k = -0.0983 m (as the original)."""
    model = scenes.two_hand_model("CatchOverarm", "egg")
    data = mujoco.MjData(model)
    mujoco.mj_step(model, data, nstep=5000)  # 10 s >> the 0.8 s time constant
    assert data.qpos[2] == pytest.approx(-0.0983, abs=1e-3)


def test_models_are_cached_but_private():
    a = scenes.two_hand_model("HandOver", "egg")
    b = scenes.two_hand_model("HandOver", "egg")
    assert a is not b
    a.geom_rgba[0, 3] = 0.123
    assert b.geom_rgba[0, 3] != 0.123
    with pytest.raises(ValueError, match="family"):
        scenes.two_hand_model("Juggle", "egg")
