"""Trajectory files as Minari datasets, the offline-RL format of the Farama ecosystem.

``python -m baselines.datasets export RUN_OR_FILES... --dataset-id dexterous_gym/EggHandOver/topdm-v0``

``python -m baselines.datasets import-scdm PATH --out DIR [--minari]`` imports the original
authors' published trajectories (see :mod:`baselines.scdm`) as trajectory files, and with
``--minari`` as one dataset per env, ``dexterous-gym/<Task>/topdm-authors-v0``.

Each trajectory file (``NAME.npz`` + ``NAME.json``, see :mod:`baselines.common.trajectory`; a
TOPDM/MPPI run folder gives its ``traj_NNN/trajectory.npz``) becomes one episode. The actions are
replayed through the env from the stored start state to get the observations (a ``Dict`` for goal
envs); the replay must reproduce the file's rewards and states bitwise, so the dataset and the file
agree exactly. Per episode of L steps, as Minari lays episodes out:

==========================  ==================================================================
``observations``            L + 1 (the reset observation first); dict of arrays on goal envs
``actions``                 (L, d) float64, exactly the file's (the dataset's action space is
                            the env's bounds in float64, so nothing is rounded to float32)
``rewards``                 (L,), the file's
``terminations``            all False (our envs never terminate)
``truncations``             False but the last step: the trajectory ends there
``infos["state"]``          (L + 1, S): the file's ``states``, ``env.unwrapped.get_state()``
                            vectors; ``set_state(infos["state"][t])`` restores step t exactly
``infos["success"]``        (L + 1,): success at reset, then the file's ``success`` (NaN on
                            envs without success, e.g. PenSpin)
==========================  ==================================================================

Episode options hold ``{"state": states[0]}``, so ``env.unwrapped.reset(options=...)`` starts the
episode again; episode metadata name the source file and planner, and the seed and run of a file
that records its run (TOPDM/MPPI files do; a file in a run folder must belong to its place there).
Datasets are written under Minari's root: ``--data-path``, else ``MINARI_DATASETS_PATH``, else
``~/.minari/datasets``.

One export at a time writes a dataset ID: the export holds the lock of a hidden staging folder
beside the datasets (``.ID.partial``, the run folders' lock, :func:`~baselines.common.runfolder.
run_folder_lock`), writes the dataset there and renames it into place when it is complete. A
failed or killed export (a full disk, a damaged file) leaves nothing under the ID, and the next
export of it clears the staging folder.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import getpass
import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from baselines.common.cli import UserError, require_extra, run_cli
from baselines.common.runfolder import LOCK_FILE, FolderBusyError, run_folder_lock
from baselines.common.trajectory import Trajectory, TrajectoryFileError, load_trajectory
from baselines.topdm.folder import RUN_CONFIG, TRAJECTORY_FILE, TrajectoryFolder, TrajectoryIdentity

if TYPE_CHECKING:
    from minari import MinariDataset

PROG = "python -m baselines.datasets"
ALGORITHM_NAMES = {"topdm": "TOPDM", "mppi": "MPPI"}
# Minari warns when these are None; leaving them out is a choice here, not an oversight.
_OMITTED_FIELD_WARNINGS = ("`code_permalink` is set to None", "`author_email` is set to None")


@dataclass
class _Episode:
    source: Path
    trajectory: Trajectory
    observations: Any
    infos: dict[str, np.ndarray]
    terminations: np.ndarray
    truncations: np.ndarray


def find_trajectory_files(paths: Sequence[str | Path]) -> list[Path]:
    """The ``.npz`` trajectory files that ``paths`` name, in order and without repeats.

    A file is taken as given (``.npz`` or its ``.json`` sidecar); a folder gives its
    ``traj_*/trajectory.npz`` (a TOPDM/MPPI run folder; unfinished trajectories have none yet) or
    else its ``NAME.npz`` files that have a ``NAME.json``.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(path.glob(f"traj_*/{TRAJECTORY_FILE}"))
            if not files:
                files = sorted(p for p in path.glob("*.npz") if p.with_suffix(".json").is_file())
            if not files:
                raise UserError(f"{path}: no trajectory files in this folder (looked for "
                                "traj_*/trajectory.npz and NAME.npz + NAME.json)")  # fmt: skip
            found.extend(files)
        elif path.suffix in (".npz", ".json") and (path.exists() or path.with_suffix(".npz").exists()):  # fmt: skip
            found.append(path.with_suffix(".npz"))
        else:
            raise UserError(f"{path}: no such trajectory file or run folder")
    unique: dict[Path, Path] = {}
    for file in found:
        unique.setdefault(file.resolve(), file)
    return list(unique.values())


@contextlib.contextmanager
def _datasets_root(data_path: str | Path | None) -> Iterator[None]:
    """Point Minari at ``data_path`` (it reads ``MINARI_DATASETS_PATH``) for the block's duration."""
    if data_path is None:
        yield
        return
    previous = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(Path(data_path).expanduser().resolve())
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = previous


def _stack(observations: list[Any]) -> Any:
    if isinstance(observations[0], dict):
        return {key: np.stack([o[key] for o in observations]) for key in observations[0]}
    return np.stack(observations)


def _version_note(meta: dict[str, Any]) -> str:
    from dexterous_gym.provenance import package_versions

    written = meta.get("versions") or {}
    here = package_versions()
    changed = [f"{k} {written[k]} -> {here.get(k)}" for k in sorted(written) if written[k] != here.get(k)]  # fmt: skip
    if not changed:
        return "same package versions as when it was written"
    return "written with other versions: " + ", ".join(changed)


def _replay(env: Any, source: Path, traj: Trajectory) -> _Episode:
    """Step ``env`` (unwrapped) through the file's actions; the result must match it bitwise."""
    states, actions = traj.states, traj.actions
    if len(actions) == 0:
        raise TrajectoryFileError(f"{source}: the trajectory has no steps")
    obs, info = env.reset(options={"state": states[0]})
    if not np.array_equal(env.get_state(), states[0]):
        raise TrajectoryFileError(f"{source}: the env does not restore states[0] exactly "
                                  f"({_version_note(traj.meta)})")  # fmt: skip
    observations = [obs]
    success = [float(info.get("is_success", np.nan))]
    n_steps = len(actions)
    terminations = np.zeros(n_steps, dtype=bool)
    truncations = np.zeros(n_steps, dtype=bool)
    for t in range(n_steps):
        obs, reward, terminated, truncated, info = env.step(actions[t])
        expected_success = traj.success[t]
        success_t = float(info.get("is_success", np.nan))
        if (
            reward != traj.rewards[t]
            or not np.array_equal(env.get_state(), states[t + 1])
            or not np.array_equal(success_t, expected_success, equal_nan=True)
        ):
            raise TrajectoryFileError(
                f"{source}: replaying the actions does not reproduce the file's reward, state or "
                f"success at step {t} ({_version_note(traj.meta)})"
            )
        if (terminated or truncated) and t < n_steps - 1:
            why = "simulation unstable" if info.get("simulation_unstable") else "terminated"
            raise TrajectoryFileError(f"{source}: the episode ends at step {t} ({why}), "
                                      f"before the trajectory's {n_steps} steps")  # fmt: skip
        observations.append(obs)
        success.append(success_t)
        terminations[t] = terminated
        truncations[t] = truncated
    if not terminations[-1]:
        truncations[-1] = True  # the trajectory stops here; the task itself goes on
    infos = {"state": states.copy(), "success": np.asarray(success, dtype=np.float64)}
    return _Episode(source, traj, _stack(observations), infos, terminations, truncations)


def _from_states(env: Any, source: Path, traj: Trajectory) -> _Episode:
    """An imported trajectory (the SCDM release's; its sidecar has ``source``): the states are the
    original simulator's, which our MuJoCo does not reproduce by replaying the actions (they drift
    apart within 25-50 steps), so each observation is the env's observation of the stored state."""
    if len(traj.actions) == 0:
        raise TrajectoryFileError(f"{source}: the trajectory has no steps")
    observations, success = [], []
    for t, state in enumerate(traj.states):
        obs, info = env.reset(options={"state": state, "keep_step_count": True})
        observations.append(obs)
        success.append(float(info.get("is_success", np.nan)) if t == 0 else traj.success[t - 1])
    n_steps = len(traj.actions)
    truncations = np.zeros(n_steps, dtype=bool)
    truncations[-1] = True
    infos = {"state": traj.states.copy(), "success": np.asarray(success, dtype=np.float64)}
    return _Episode(source, traj, _stack(observations), infos, np.zeros(n_steps, dtype=bool), truncations)  # fmt: skip


def _episode(env: Any, source: Path, traj: Trajectory) -> _Episode:
    return _from_states(env, source, traj) if "source" in traj.meta else _replay(env, source, traj)


def _load(file: Path) -> Trajectory:
    """A trajectory file; one of a TOPDM/MPPI run folder (``RUN/traj_NNN/trajectory.npz`` beside
    ``RUN/config.json``) must belong to trajectory NNN of that run (files that name no run, written
    before files did, are taken as they are)."""
    folder = file.parent
    if file.name == TRAJECTORY_FILE and folder.name.startswith("traj_") and (folder.parent / RUN_CONFIG).is_file():  # fmt: skip
        advice = (
            "export the file from the run folder it belongs to, or restore this one from a copy"
        )
        return TrajectoryFolder.in_run(folder, require_identity=False).load_trajectory(advice)
    return load_trajectory(file)


def _load_all(files: list[Path]) -> tuple[str, list[tuple[Path, Trajectory]]]:
    loaded = [(file, _load(file)) for file in files]
    env_ids = sorted({traj.meta["env_id"] for _, traj in loaded})
    if len(env_ids) > 1:
        first = {env_id: next(f for f, t in loaded if t.meta["env_id"] == env_id) for env_id in env_ids}  # fmt: skip
        listing = ", ".join(f"{env_id} ({file})" for env_id, file in first.items())
        raise UserError(f"one dataset holds one env, these files mix {len(env_ids)}: {listing}")
    return env_ids[0], loaded


def export_minari(
    paths: Sequence[str | Path],
    dataset_id: str,
    *,
    data_path: str | Path | None = None,
    author: str | None = None,
    author_email: str | None = None,
    description: str | None = None,
    code_permalink: str | None = None,
) -> MinariDataset:
    """Write the trajectory files (or run folders) ``paths`` as the local Minari dataset ``dataset_id``.

    ``data_path`` is Minari's datasets root (default: ``MINARI_DATASETS_PATH``, else
    ``~/.minari/datasets``); ``author`` defaults to the user name. Raises :class:`UserError` for an
    existing or malformed ID, an ID another export is writing, missing files, mixed env IDs and a
    full disk, :class:`TrajectoryFileError` (both ValueErrors) for a damaged file, one of another
    run, or one whose replay differs; nothing is left under the ID then.
    Returns the dataset, as ``minari.load_dataset(dataset_id)`` would.
    """
    import minari
    from minari.dataset.minari_dataset import parse_dataset_id
    from minari.storage import get_dataset_path

    try:
        parse_dataset_id(dataset_id)
    except ValueError as err:
        raise UserError(f"--dataset-id {dataset_id!r}: {err}") from err
    with _datasets_root(data_path):
        target = Path(get_dataset_path(dataset_id))
        root = Path(get_dataset_path())
        staging = root / f".{dataset_id.replace('/', '__')}.partial"
        try:
            with run_folder_lock(staging):
                _clear(staging)  # what a killed export of this ID left
                if target.exists():
                    raise UserError(f"dataset {dataset_id} already exists at {target}; pick another ID "
                                    f"(or version, -v1) or delete it (minari delete {dataset_id})")  # fmt: skip
                try:
                    with _datasets_root(staging):
                        _write_dataset(paths, dataset_id, staging, author=author or _user_name(),
                                       author_email=author_email, description=description,
                                       code_permalink=code_permalink)  # fmt: skip
                    _move_into_place(staging, dataset_id, target)
                finally:
                    _clear(staging)
        except FolderBusyError:
            holder = (staging / LOCK_FILE).read_text().strip() or "another process"
            raise UserError(
                f"dataset {dataset_id} is being written by another export ({holder}, holding "
                f"{staging / LOCK_FILE}); wait for it to finish, or stop it and export again"
            ) from None
        except OSError as err:
            if not isinstance(err, FileNotFoundError | FileExistsError):
                raise UserError(
                    f"{err}; nothing was written under {target}: "
                    f"{'free disk space' if err.errno == errno.ENOSPC else 'fix the cause'} and "
                    "export again"
                ) from None
            raise
        return minari.load_dataset(dataset_id)


def _clear(staging: Path) -> None:
    """Remove everything in the staging folder but its lock."""
    for path in staging.iterdir():
        if path.name == LOCK_FILE:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _move_into_place(staging: Path, dataset_id: str, target: Path) -> None:
    """The complete dataset from the staging root to the datasets root, in one rename, after
    creating its namespaces there as Minari would."""
    from minari.dataset.minari_dataset import parse_dataset_id
    from minari.namespace import create_namespace, list_local_namespaces

    namespace = parse_dataset_id(dataset_id)[0]
    if namespace is not None and namespace not in list_local_namespaces():
        create_namespace(namespace)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staging / dataset_id, target)


def _needed_bytes(episodes: Sequence[_Episode]) -> int:
    """About what the dataset takes on disk: its arrays, plus a margin for HDF5's own data."""
    total = 0
    for ep in episodes:
        observations = ep.observations.values() if isinstance(ep.observations, dict) else [ep.observations]  # fmt: skip
        arrays = [*observations, *ep.infos.values(), ep.trajectory.actions, ep.trajectory.rewards]
        total += sum(np.asarray(a).nbytes for a in arrays)
    return int(total * 1.2) + (1 << 20)


def _write_dataset(
    paths: Sequence[str | Path],
    dataset_id: str,
    staging: Path,
    *,
    author: str,
    author_email: str | None,
    description: str | None,
    code_permalink: str | None,
) -> None:
    """Replay the files and write the dataset under the current Minari root (the staging one)."""
    import gymnasium as gym
    import minari

    import dexterous_gym  # noqa: F401  (registers the env IDs)
    from baselines.common.envs import check_env_id
    from dexterous_gym.provenance import package_versions

    env_id, loaded = _load_all(find_trajectory_files(paths))
    try:
        check_env_id(env_id)
    except ValueError as err:
        raise UserError(f"{loaded[0][0]}: {str(err).removeprefix('--env: ')}") from err
    env = gym.make(env_id)
    try:
        episodes = [_episode(env.unwrapped, file, traj) for file, traj in loaded]
    finally:
        env.close()
    needed, free = _needed_bytes(episodes), shutil.disk_usage(staging).free
    if free < needed:
        # h5py can crash the process on a full disk rather than raise: do not start writing
        raise OSError(errno.ENOSPC, f"the dataset needs about {needed / 1e6:.1f} MB, {free / 1e6:.1f} MB are free", str(staging))  # fmt: skip
    box = env.action_space
    assert isinstance(box, gym.spaces.Box)  # all our envs: Box(-1, 1)
    dtype = loaded[0][1].actions.dtype
    action_space = gym.spaces.Box(box.low.astype(dtype), box.high.astype(dtype), dtype=dtype.type)
    planners = sorted({str(ep.trajectory.meta["planner"]) for ep in episodes})
    algorithm = "+".join(ALGORITHM_NAMES.get(p, p) for p in planners)
    versions = package_versions()
    requirements = [f"mujoco=={versions['mujoco']}"]
    if versions["dexterous-gym"] is not None:
        requirements.insert(0, f"dexterous-gym>={versions['dexterous-gym']}")
    with warnings.catch_warnings():
        for message in _OMITTED_FIELD_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        dataset = minari.create_dataset_from_buffers(
            dataset_id,
            _buffers(episodes),
            env=env,
            eval_env=env_id,
            algorithm_name=algorithm,
            author=author,
            author_email=author_email,
            code_permalink=code_permalink,
            action_space=action_space,
            description=description or _description(env_id, episodes, algorithm),
            requirements=requirements,
        )
    dataset.storage.update_episode_metadata([_episode_metadata(ep) for ep in episodes])


def _buffers(episodes: Sequence[_Episode]) -> list[Any]:
    from minari.data_collector import EpisodeBuffer

    return [
        EpisodeBuffer(
            id=i,
            options={"state": ep.trajectory.states[0]},
            observations=ep.observations,
            actions=ep.trajectory.actions,
            rewards=ep.trajectory.rewards,
            terminations=ep.terminations,
            truncations=ep.truncations,
            infos=ep.infos,
        )
        for i, ep in enumerate(episodes)
    ]


def _description(env_id: str, episodes: Sequence[_Episode], algorithm: str) -> str:
    imported = [ep for ep in episodes if "source" in ep.trajectory.meta]
    if imported:
        return (
            f"{len(episodes)} trajectories of {env_id} (dexterous_gym) from the original "
            f"authors' code release ({imported[0].trajectory.meta['source']['repository']}, "
            "Charlesworth & Montana, ICML 2021), imported by python -m baselines.datasets "
            "import-scdm. infos['state'] holds env.unwrapped.get_state() vectors of the stored "
            "states (their simulator was MuJoCo 2.0, so replaying the actions drifts from them "
            "within 25-50 steps; the observations are the env's observations of the stored "
            "states); rewards and infos['success'] are the env's on those states."
        )
    return (
        f"{len(episodes)} {algorithm} trajectories of {env_id} (dexterous_gym), one per "
        "episode. infos['state'] holds env.unwrapped.get_state() vectors (one per "
        "observation), infos['success'] the success flags; replaying the actions from "
        "infos['state'][0] reproduces rewards and states bitwise on the MuJoCo version in "
        "the requirements."
    )


def _episode_metadata(ep: _Episode) -> dict[str, Any]:
    meta = ep.trajectory.meta
    data: dict[str, Any] = {"source": str(ep.source), "planner": str(meta["planner"])}
    identity = TrajectoryIdentity.from_dict(ep.trajectory.identity)
    if identity is not None:  # the run's seed, which a copied or edited sidecar cannot change
        data.update({"planner_seed": identity.seed, "run_config_hash": identity.config_hash,
                     "trajectory_index": identity.index})  # fmt: skip
    elif meta.get("seed") is not None:
        data["planner_seed"] = int(meta["seed"])
    if "source" in meta:  # imported: name the original file
        data.update({
            "original_repository": str(meta["source"]["repository"]),
            "original_file": str(meta["source"]["file"]),
            "original_sha256": str(meta["source"]["sha256"]),
        })  # fmt: skip
    return data


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    export = commands.add_parser(
        "export",
        help="trajectory files or run folders -> a local Minari dataset",
        description="Replay trajectory files (or the traj_*/trajectory.npz of run folders) and "
        "write them as one local Minari dataset; minari.load_dataset(ID) reads it.",
    )
    export.add_argument("paths", nargs="+", metavar="RUN_OR_FILE",
                        help="run folders, trajectory .npz files or their .json sidecars")  # fmt: skip
    export.add_argument("--dataset-id", required=True,
                        help="(namespace/)name-vN, e.g. dexterous_gym/EggHandOver/topdm-v0")  # fmt: skip
    export.add_argument("--data-path", type=Path, default=None,
                        help="Minari datasets root (default: $MINARI_DATASETS_PATH, else ~/.minari/datasets)")  # fmt: skip
    export.add_argument("--author", default=None, help="dataset author (default: your user name)")
    export.add_argument("--author-email", default=None, help="author's contact e-mail")
    export.add_argument("--description", default=None, help="dataset description (default: generated)")  # fmt: skip
    export.add_argument("--code-permalink", default=None, help="link to the code that made the data")  # fmt: skip
    scdm = commands.add_parser(
        "import-scdm",
        help="the original authors' published trajectories -> our trajectory files, verified",
        description="Read the SCDM release's trajectories (one .pkl file, a task folder, or a "
        "whole clone of github.com/henrycharlesworth/SCDM) without executing anything in them, "
        "write one trajectory folder per env under --out, and check each file against our env "
        "(rewards, success labels, one-step and open-loop agreement).",
    )
    scdm.add_argument("path", type=Path, help="an SCDM .pkl file, a task folder or an SCDM clone")
    scdm.add_argument("--out", type=Path, required=True, help="folder for the trajectory folders (one per env)")  # fmt: skip
    scdm.add_argument("--minari", action="store_true",
                      help="also write one local Minari dataset per env, dexterous-gym/<Task>/topdm-authors-v0")  # fmt: skip
    scdm.add_argument("--data-path", type=Path, default=None,
                      help="Minari datasets root for --minari (default: $MINARI_DATASETS_PATH, else ~/.minari/datasets)")  # fmt: skip
    scdm.add_argument("--strict", action="store_true",
                      help="exit with status 1 if any file was skipped or disagrees beyond the tolerances")  # fmt: skip
    scdm.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")  # fmt: skip
    return parser


def minari_id_for(env_id: str) -> str:
    """The dataset ID ``import-scdm --minari`` gives the authors' trajectories of ``env_id``."""
    return f"dexterous-gym/{env_id.split('-v')[0]}/topdm-authors-v0"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "import-scdm":
        return run_cli(PROG, lambda: _import_scdm(args))
    return run_cli(PROG, lambda: _export(args))


def _import_scdm(args: argparse.Namespace) -> int:
    require_extra("joblib", "baselines", PROG)
    from baselines.scdm import fidelity_markdown, fidelity_rows, import_scdm, write_report

    if not args.path.exists():
        raise UserError(f"PATH {args.path}: no such file or folder")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out}: exists and is not a folder")
    if args.minari:
        require_extra("minari", "baselines", PROG)
    results = import_scdm(args.path, args.out, progress=args.progress)
    written = [r for r in results if r.written is not None]
    flagged = [r for r in written if r.verification is not None and not r.verification.agrees]
    skipped = len(results) - len(written)
    print(fidelity_markdown(fidelity_rows(results)), end="")
    report, table = write_report(results, args.out)
    print(f"{len(written)} of {len(results)} files imported into {args.out} ({skipped} skipped, "
          f"{len(flagged)} flagged); report {report}, table {table}")  # fmt: skip
    if args.minari:
        for env_id in sorted({r.env_id for r in written if r.env_id is not None}):
            dataset_id = minari_id_for(env_id)
            files = [r.written for r in written if r.env_id == env_id and r.written is not None]
            dataset = export_minari(files, dataset_id, data_path=args.data_path,
                                    author="Charlesworth & Montana (imported)")  # fmt: skip
            print(f"dataset {dataset_id}: {dataset.total_episodes} episodes, {dataset.total_steps} steps")  # fmt: skip
    return 1 if args.strict and (flagged or skipped) else 0


def _export(args: argparse.Namespace) -> int:
    require_extra("minari", "baselines", PROG)
    require_extra("h5py", "baselines", PROG)  # Minari's default (HDF5) storage
    dataset = export_minari(
        args.paths,
        args.dataset_id,
        data_path=args.data_path,
        author=args.author,
        author_email=args.author_email,
        description=args.description,
        code_permalink=args.code_permalink,
    )
    n = dataset.total_episodes
    print(f"dataset {args.dataset_id}: {n} episode{'s' if n != 1 else ''}, "
          f"{dataset.total_steps} steps of {dataset.spec.env_spec.id}, "
          f"in {Path(dataset.spec.data_path).parent}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
