import os

# Headless rendering everywhere the tests run (CI has no display); EGL works on CPU via Mesa.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
