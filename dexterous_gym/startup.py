"""What must happen before MuJoCo and gymnasium-robotics are first imported.

* Headless rendering: MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` when ``mujoco`` is first
  imported, and its default (GLFW) fails without a display. With no ``MUJOCO_GL`` set and no
  display, we choose EGL (GPU or Mesa), else OSMesa, if their libraries can be found. A user's
  explicit ``MUJOCO_GL`` always wins, and nothing changes on a machine with a display.
* gymnasium-robotics 1.2.1 to 1.4.2 print a notice about their Adroit envs' rewards on import, which
  concerns none of our envs; it is held back, and any other output of that import is passed on.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import io
import os
import sys

_ADROIT_NOTICE = "AdroitHandRelocateDense-v1, AdroitHandHammerDense-v1, AdroitHandDoorDense-v1"


def headless_gl_backend() -> str | None:
    """The backend to use on this machine when none is configured (``None``: leave MuJoCo's)."""
    if "MUJOCO_GL" in os.environ or sys.platform != "linux":
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    if ctypes.util.find_library("EGL"):
        return "egl"
    if ctypes.util.find_library("OSMesa"):
        return "osmesa"
    return None


def configure_headless_rendering() -> None:
    """Set ``MUJOCO_GL`` (and PyOpenGL's platform) for a headless machine, if nothing is set.

    Also when ``mujoco`` (or gymnasium-robotics) was imported first: Gymnasium's renderer reads
    ``MUJOCO_GL`` when it makes its first context, and PyOpenGL its platform when it is first
    imported, so this still takes effect as long as PyOpenGL has not been imported yet (else
    :func:`check_render_backend` explains what to set, instead of MuJoCo aborting).
    """
    backend = headless_gl_backend()
    if backend is not None and "OpenGL" not in sys.modules:
        os.environ["MUJOCO_GL"] = backend
        os.environ.setdefault("PYOPENGL_PLATFORM", backend)


def check_render_backend() -> None:
    """Raise RuntimeError, naming what to set, where rendering cannot work: no display, and no
    headless backend chosen (``MUJOCO_GL`` unset or ``glfw``). MuJoCo itself would raise a
    FatalError on the first frame and abort Python on the next."""
    if sys.platform != "linux" or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    if os.environ.get("MUJOCO_GL", "glfw").lower() not in ("", "glfw"):
        return
    raise RuntimeError(
        "rendering needs a display or a headless OpenGL backend: this machine has no display and "
        "MUJOCO_GL is unset (PyOpenGL was imported before dexterous_gym could choose one); set "
        "MUJOCO_GL=egl (or osmesa) in the environment before starting Python"
    )


def import_gymnasium_robotics_quietly() -> None:
    """Import gymnasium-robotics, dropping only its Adroit notice from what it prints."""
    if "gymnasium_robotics" in sys.modules:
        return
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        import gymnasium_robotics  # noqa: F401
    rest = [line for line in captured.getvalue().splitlines() if _ADROIT_NOTICE not in line]
    if rest:
        print("\n".join(rest), file=sys.stderr)
