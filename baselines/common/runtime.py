"""Process setup shared by the training CLIs: torch threads and headless rendering.

Seeding uses Stable-Baselines3's ``set_random_seed`` (python, numpy, torch) and env ``seed``s.
"""

from __future__ import annotations


def configure_rendering() -> None:
    """Pick MuJoCo's OpenGL backend on a headless machine, unless the user chose one.

    Must run before ``mujoco`` (or an env package importing it) is imported for rendering to work;
    see :func:`dexterous_gym.startup.configure_headless_rendering`.
    """
    # imported when called: importing dexterous_gym loads Gymnasium and registers every env
    from dexterous_gym.startup import configure_headless_rendering

    configure_headless_rendering()


def configure_torch(num_threads: int = 1) -> None:
    """Limit torch's intra-op threads.

    Small MLP updates gain nothing from several threads and lose a lot to contention: one thread
    was about 5x faster than the default on a 2-core machine.
    """
    import torch  # heavy: imported when a run starts (the CLIs parse their options without it)

    torch.set_num_threads(max(1, int(num_threads)))


def check_device(device: str) -> None:
    """Raise ``ValueError`` naming ``--device`` unless torch can use it (before any run files)."""
    import torch  # heavy: imported when a run starts (the CLIs parse their options without it)

    if device == "auto":
        return
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"--device must be cpu, cuda, cuda:N, mps or auto, got {device!r}"
        ) from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device is available here; use --device cpu")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():  # fmt: skip
        raise ValueError(f"--device {device}: there are {torch.cuda.device_count()} CUDA devices")
