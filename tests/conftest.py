"""Test-wide set-up: the same headless rendering choice a user's session makes by itself."""

from dexterous_gym.startup import configure_headless_rendering

# before any test module imports mujoco (a test may import it before dexterous_gym)
configure_headless_rendering()
