"""MuJoCo scenes composed with :class:`mujoco.MjSpec` from gymnasium-robotics' stock Shadow hand.

Each two-hand scene is the stock hand (``robot.xml`` + ``shared.xml`` + ``shared_asset.xml``, as
shipped in gymnasium-robotics) attached twice, the second copy with the ``_2`` suffix, plus the
per-family deltas of :mod:`dexterous_gym.tasks`: mount poses, six unlimited mount DoFs and their
actuators (hand-2 set before hand-1, as the original orders them), objects, targets, floor, light
and the camera's look-at site. PenSpin and PenReorientation use the stock single-hand pen scene
(PenSpin with its target pen hidden, PenReorientation with it showing the goal). Each scene comes
with the free camera it is rendered from (:class:`FreeCamera`).

Compiled models are cached per scene; every env gets its own copy so that edits to one env's model
(domain randomisation, say) never leak into another.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium_robotics
import mujoco
import numpy as np

from dexterous_gym.simulation import model_tag
from dexterous_gym.tasks import FAMILIES, MOUNT_JOINTS, OBJECTS, Family, Vec3

ASSETS_DIR = Path(gymnasium_robotics.__file__).parent / "envs" / "assets"
HAND_DIR = ASSETS_DIR / "hand"
MESH_DIR = ASSETS_DIR / "stls" / "hand"
TEXTURE_DIR = ASSETS_DIR / "textures"

_HAND_XML = f"""<mujoco>
  <compiler angle="radian" meshdir="{MESH_DIR}" texturedir="{TEXTURE_DIR}"/>
  <include file="shared.xml"/>
  <asset><include file="shared_asset.xml"/></asset>
  <worldbody><include file="robot.xml"/></worldbody>
</mujoco>"""

_PEN_EULER = (-1.0, 1.0, 0.0)
_FREE_JOINT_DAMPING = 0.01


@dataclass(frozen=True)
class FreeCamera:
    """The free camera a scene is rendered from: MuJoCo's ``mjvCamera`` looking at ``lookat``
    (m, world) from ``distance`` (m), at ``azimuth`` and ``elevation`` (degrees)."""

    lookat: Vec3
    distance: float
    azimuth: float
    elevation: float

    def config(self) -> dict[str, Any]:
        """The ``default_cam_config`` of Gymnasium's ``MujocoRenderer``."""
        return {
            "distance": self.distance,
            "azimuth": self.azimuth,
            "elevation": self.elevation,
            "lookat": np.array(self.lookat),
        }


def euler_to_quat(euler: tuple[float, float, float]) -> np.ndarray:
    """MuJoCo's default intrinsic xyz Euler angles (radians) to a (w, x, y, z) quaternion."""
    quat = np.empty(4)
    mujoco.mju_euler2Quat(quat, np.asarray(euler, dtype=float), "xyz")
    return quat


def _stock_hand_spec(mount_pos: Vec3, mount_euler: Vec3, moving: bool) -> mujoco.MjSpec:
    """One stock Shadow hand, re-mounted, optionally with the six actuated mount DoFs."""
    assets = {
        name: (HAND_DIR / name).read_bytes()
        for name in ("shared.xml", "shared_asset.xml", "robot.xml")
    }
    hand = mujoco.MjSpec.from_string(_HAND_XML, assets)
    # The parent's automatic arena sizing replaces the stock single-hand njmax/nconmax/nstack.
    hand.njmax = hand.nconmax = -1
    hand.nstack = -1
    mount = hand.body("robot0:hand mount")
    mount.pos = mount_pos
    # The stock mount is oriented by `euler`, which MjSpec keeps as an alternative orientation
    # that takes precedence over `quat`: override it in kind.
    mount.alt.euler = mount_euler
    if moving:
        for joint in MOUNT_JOINTS:
            mount.add_joint(
                name=f"robot_{joint.name}",
                type=mujoco.mjtJoint.mjJNT_SLIDE
                if joint.kind == "slide"
                else mujoco.mjtJoint.mjJNT_HINGE,
                axis=joint.axis,
                damping=joint.damping,
                range=[-1.0, 1.0],
                # MuJoCo 2.0 ignored `range` without `limited`; autolimits would clamp to +-1.
                limited=mujoco.mjtLimited.mjLIMITED_FALSE,
            )
    return hand


def _add_object_assets(spec: mujoco.MjSpec, obj: str) -> None:
    if obj == "pen":
        common = {"specular": 0.0, "shininess": 0.5, "reflectance": 0.0}
        spec.add_material(name="material:object", rgba=[0.46, 0.81, 0.88, 1.0], **common)
        spec.add_material(name="material:target", rgba=[0.46, 0.81, 0.88, 0.5], **common)
        return
    for name, file in (("texture:object", "block.png"), ("texture:hidden", "block_hidden.png")):
        spec.add_texture(
            name=name,
            file=file,
            type=mujoco.mjtTexture.mjTEXTURE_CUBE,
            gridsize=[3, 4],
            gridlayout=".U..LFRB.D..",
        )
    common = {"specular": 1.0, "shininess": 0.3, "reflectance": 0.0}
    for name, texture, alpha in (
        ("material:object", "texture:object", 1.0),
        ("material:hidden", "texture:hidden", 1.0),
        ("material:target", "texture:object", 0.5),
    ):
        material = spec.add_material(name=name, rgba=[1, 1, 1, alpha], **common)
        material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = texture


def _shape(obj: str, hidden: bool = False) -> dict[str, Any]:
    """Geom type and size of each object (the stock manipulate_* geometry)."""
    if obj == "egg":
        return {
            "type": mujoco.mjtGeom.mjGEOM_ELLIPSOID,
            "size": [0.029, 0.029, 0.03] if hidden else [0.03, 0.03, 0.04],
        }
    if obj == "block":
        half = 0.024 if hidden else 0.025
        return {"type": mujoco.mjtGeom.mjGEOM_BOX, "size": [half] * 3}
    return {"type": mujoco.mjtGeom.mjGEOM_CAPSULE, "size": [0.008, 0.1, 0.0]}


def _add_body(
    spec: mujoco.MjSpec, obj: str, name: str, pos: Vec3 | None, suffix: str, is_target: bool
) -> mujoco.MjsBody:
    """An object (collides) or its target (a ghost: no contacts, gravity compensated)."""
    quat = euler_to_quat(_PEN_EULER) if obj == "pen" else np.array([1.0, 0, 0, 0])
    body = spec.worldbody.add_body(name=f"{name}{suffix}", pos=pos, quat=quat)
    if is_target:
        # The original's targets free-fall forever (z = -24370 in its Overarm snapshot); a
        # gravity-compensated free body keeps the qpos layout and stays where the goal puts it.
        body.gravcomp = 1.0
    geom = {"condim": 4, **_shape(obj)}
    if obj == "block" and not is_target:
        geom["density"] = 567.0
    if is_target:
        geom.update(material="material:target", group=2, contype=0, conaffinity=0)
    else:
        geom.update(material="material:object")
    body.add_geom(name=f"{name}{suffix}", **geom)
    if obj != "pen" and not is_target:
        body.add_geom(
            name=f"object_hidden{suffix}",
            material="material:hidden",
            condim=4,
            contype=0,
            conaffinity=0,
            mass=0.0,
            **_shape(obj, hidden=True),
        )
    body.add_site(name=f"{name}{suffix}:center", size=[0.01] * 3, rgba=[1, 0, 0, 0])
    if obj == "pen":
        alpha = 0.5 if is_target else 1.0
        for end, z, rgba in (("top", 0.1, [1, 0, 0, alpha]), ("bottom", -0.1, [0, 1, 0, alpha])):
            body.add_site(name=f"{name}{suffix}:{end}", pos=[0, 0, z], size=[0.0081] * 3, rgba=rgba)
    body.add_joint(
        name=f"{name}{suffix}:joint", type=mujoco.mjtJoint.mjJNT_FREE, damping=_FREE_JOINT_DAMPING
    )
    return body


def build_two_hand_spec(family: Family, obj: str) -> mujoco.MjSpec:
    """Compose the MjSpec of one two-hand scene (not compiled)."""
    spec = mujoco.MjSpec()
    spec.compiler.degree = False
    spec.texturedir = str(TEXTURE_DIR)
    spec.meshdir = str(MESH_DIR)
    spec.option.timestep = 0.002
    spec.option.iterations = 20
    spec.nuser_jnt = spec.nuser_site = spec.nuser_tendon = spec.nuser_sensor = 1
    spec.nuser_actuator = 16
    spec.visual.map.fogstart = 3.0
    spec.visual.map.fogend = 5.0
    spec.visual.map.force = 0.1
    spec.visual.quality.shadowsize = 4096
    spec.stat.center = family.camera_lookat
    spec.stat.extent = family.camera_distance

    # Floor first, then the empty floor0 body, to keep the original body/geom id order.
    spec.worldbody.add_geom(
        name="floor0",
        type=mujoco.mjtGeom.mjGEOM_PLANE,
        pos=[1.0, 1.0, family.floor_z],
        size=[1.0, 1.0, 1.0],
        condim=3,
        material="floor_mat",
    )
    spec.worldbody.add_body(name="floor0", pos=[1.0, 1.0, 0.0])

    for (pos, euler), suffix in ((family.hand1_mount, ""), (family.hand2_mount, "_2")):
        hand = _stock_hand_spec(pos, euler, family.moving_hands)
        with _without_empty_prefix_warning():
            spec.attach(hand, frame=spec.worldbody.add_frame(), prefix="", suffix=suffix)

    _add_object_assets(spec, obj)
    _add_body(spec, obj, "object", family.object_pos, "", is_target=False)
    _add_body(spec, obj, "target", family.target_pos, "", is_target=True)
    if family.two_objects:
        _add_body(spec, obj, "object", family.object2_pos, "_2", is_target=False)
        _add_body(spec, obj, "target", family.target2_pos, "_2", is_target=True)

    spec.worldbody.add_light(
        name="light0",
        type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
        ambient=[0.2] * 3,
        diffuse=[0.8] * 3,
        specular=[0.3] * 3,
        castshadow=False,
        pos=[0, 1, 4],
        dir=[0, 0, -1],
    )
    spec.worldbody.add_site(
        name="centre-point", pos=family.camera_lookat, size=[0.05] * 3, rgba=[1, 0, 0, 0]
    )

    if family.moving_hands:
        for suffix in ("_2", ""):  # the original lists hand 2's mount actuators first
            for joint in MOUNT_JOINTS:
                spec.add_actuator(
                    name=f"A_{joint.name}{suffix}",
                    target=f"robot_{joint.name}{suffix}",
                    trntype=mujoco.mjtTrn.mjTRN_JOINT,
                    gaintype=mujoco.mjtGain.mjGAIN_FIXED,
                    biastype=mujoco.mjtBias.mjBIAS_AFFINE,
                    gainprm=[joint.gain] + [0.0] * 9,
                    biasprm=[0.0, -joint.stiffness] + [0.0] * 8,
                    ctrlrange=[-1.0, 1.0],
                    ctrllimited=mujoco.mjtLimited.mjLIMITED_TRUE,
                )
    return spec


@contextlib.contextmanager
def _without_empty_prefix_warning() -> Iterator[None]:
    """Hold back MuJoCo >= 3.12's warning that an empty attach prefix may spoil saving the model
    to XML: the hands keep their stock names on purpose (the original's names), and we never save.
    Every other MuJoCo warning goes on to the handler that was installed before."""
    previous = mujoco.get_mju_user_warning()

    def handler(message: str) -> None:
        if "empty prefix" in str(message):
            return
        if previous is not None:
            previous(message)
        else:
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(handler)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


@functools.cache
def _compiled_two_hand(family_name: str, obj: str) -> mujoco.MjModel:
    spec = build_two_hand_spec(FAMILIES[family_name], obj)
    with warnings.catch_warnings():  # MuJoCo >= 4 repeats the empty-prefix notice at compile
        warnings.filterwarnings("ignore", "Attaching a spec with an empty prefix", UserWarning)
        return spec.compile()


def _stock_pen_spec() -> mujoco.MjSpec:
    """The stock single-hand pen scene, its target pen gravity-compensated: the original's target
    free-falls between goal updates; this one stays where the goal puts it."""
    spec = mujoco.MjSpec.from_file(str(HAND_DIR / "manipulate_pen.xml"))
    spec.body("target").gravcomp = 1.0
    return spec


@functools.cache
def _compiled_pen_spin() -> mujoco.MjModel:
    spec = _stock_pen_spec()
    # PenSpin has no goal: the target is parked, gravity-compensated and invisible, instead of
    # being sent 10 km away as the original's placeholder goal did.
    target = spec.body("target")
    for geom in target.geoms:
        geom.rgba = [0, 0, 0, 0]
        geom.material = ""
    for site in target.sites:
        site.rgba = [0, 0, 0, 0]
    return spec.compile()


@functools.cache
def _compiled_pen_reorientation() -> mujoco.MjModel:
    spec = _stock_pen_spec()
    # The target pen shows the goal pose: a visible ghost, as the two-hand targets (_add_body).
    for geom in spec.body("target").geoms:
        geom.group, geom.contype, geom.conaffinity = 2, 0, 0
    return spec.compile()


# --- scene names: what a state vector's model tag is computed from ------------------------------

PEN_SPIN_SCENE = "one_hand/PenSpin"
PEN_REORIENTATION_SCENE = "one_hand/PenReorientation"


def two_hand_scene(family_name: str, obj: str) -> str:
    """The stable name of a two-hand scene, such as ``"two_hands/HandOver/egg"``: the family and
    the object, not the reward type (dense and sparse variants share their scene and states)."""
    return f"two_hands/{family_name}/{obj}"


SCENES: tuple[str, ...] = (
    *(two_hand_scene(f, o) for f in FAMILIES for o in OBJECTS),
    PEN_SPIN_SCENE,
    PEN_REORIENTATION_SCENE,
)


@functools.cache
def _scenes_by_tag() -> dict[int, str]:
    by_tag = {model_tag(scene): scene for scene in SCENES}
    if len(by_tag) != len(SCENES):  # pragma: no cover - a clash of two scene names' CRC-32
        raise RuntimeError("two scenes share a model tag; rename one")
    return by_tag


def scene_of_tag(tag: float) -> str | None:
    """The name of the scene whose model tag is ``tag``, or None if no scene has it."""
    if not np.isfinite(tag) or tag != np.floor(tag):
        return None
    return _scenes_by_tag().get(int(tag))


# gymnasium-robotics' hand camera (shadow_dexterous_hand/hand_env.py), looking at the palm
PEN_CAMERA = FreeCamera(lookat=(1.0, 0.96, 0.14), distance=0.5, azimuth=55.0, elevation=-25.0)


def two_hand_camera(family_name: str) -> FreeCamera:
    """The camera of a family's two-hand scenes: the original's, looking along -x at the
    scene's ``centre-point`` site from the family's distance and elevation."""
    if family_name not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family_name!r}")
    family = FAMILIES[family_name]
    return FreeCamera(
        lookat=family.camera_lookat,
        distance=family.camera_distance,
        azimuth=180.0,
        elevation=family.camera_elevation,
    )


def two_hand_model(family_name: str, obj: str) -> mujoco.MjModel:
    """A private copy of the compiled model of one two-hand scene."""
    if family_name not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family_name!r}")
    if obj not in OBJECTS:
        raise ValueError(f"object must be one of {OBJECTS}, got {obj!r}")
    return copy.copy(_compiled_two_hand(family_name, obj))


def pen_spin_model() -> mujoco.MjModel:
    """A private copy of the compiled PenSpin model (stock single-hand pen scene)."""
    return copy.copy(_compiled_pen_spin())


def pen_reorientation_model() -> mujoco.MjModel:
    """A private copy of the compiled PenReorientation model: the PenSpin scene with its target
    pen visible (a ghost at the goal pose)."""
    return copy.copy(_compiled_pen_reorientation())
