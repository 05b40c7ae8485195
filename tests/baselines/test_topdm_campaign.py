"""The TOPDM campaign: folders as its state, resume, the success table, and Ray (a real local
cluster on loopback) giving bitwise the same trajectories as a run in this process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from baselines.common.runfolder import FolderBusyError, folder_lock
from baselines.common.trajectory import load_trajectory
from baselines.topdm import campaign
from baselines.topdm.campaign import CampaignConfig, prepare_campaign, run_campaign
from baselines.topdm.config import make_config, simulated_steps
from baselines.topdm.run import run_trajectory

ENVS = ("EggHandOver-v0", "PenSpin-v0")


def smoke(out: Path, **kwargs: object) -> CampaignConfig:
    values: dict[str, object] = {
        "envs": ENVS,
        "preset": "smoke",
        "out": out,
        "trajectories": 2,
        "local": True,
        "video": False,
        "refresh": 0.2,
    }
    values.update(kwargs)
    return CampaignConfig(**values)  # type: ignore[arg-type]


def trajectories(out: Path) -> dict[str, dict[str, np.ndarray]]:
    """Every trajectory file under a campaign folder, by relative path."""
    found = {}
    for path in sorted(out.glob("*/traj_*/trajectory.npz")):
        with np.load(path) as data:
            found[str(path.relative_to(out))] = {k: data[k] for k in data.files}
    return found


def assert_same_trajectories(a: Path, b: Path) -> None:
    ta, tb = trajectories(a), trajectories(b)
    assert ta and sorted(ta) == sorted(tb)
    for name in ta:
        for key in ta[name]:
            assert np.array_equal(ta[name][key], tb[name][key], equal_nan=True), (name, key)


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("campaign") / "local"
    run_campaign(smoke(out), stream=open(os.devnull, "w"))  # noqa: SIM115
    return out


def test_layout_is_one_topdm_run_folder_per_env(in_process: Path) -> None:
    assert sorted(p.name for p in in_process.iterdir() if p.is_dir()) == sorted(ENVS)
    for env_id in ENVS:
        config = json.loads((in_process / env_id / "config.json").read_text())
        assert config["env"] == env_id and config["trajectories"] == 2
        assert config["planner_config"] == make_config("smoke", env_id).to_dict()
        for i in range(2):
            summary = json.loads((in_process / env_id / f"traj_{i:03d}" / "summary.json").read_text())  # fmt: skip
            assert summary["seed"] == i and summary["env_id"] == env_id


def test_a_trajectory_equals_the_single_run_tool(in_process: Path, tmp_path: Path) -> None:
    single = tmp_path / "single"
    run_trajectory("EggHandOver-v0", make_config("smoke", "EggHandOver-v0"), 1, single, video=False, index=1)  # fmt: skip
    with np.load(single / "trajectory.npz") as a, np.load(in_process / "EggHandOver-v0/traj_001/trajectory.npz") as b:  # fmt: skip
        assert all(np.array_equal(a[k], b[k], equal_nan=True) for k in a.files)


def test_success_table_counts_the_folders(in_process: Path) -> None:
    rows = json.loads((in_process / "results.json").read_text())
    egg, pen = rows
    summaries = [
        json.loads((in_process / "EggHandOver-v0" / f"traj_{i:03d}/summary.json").read_text())
        for i in range(2)
    ]
    assert egg["successes"] == sum(s["success_final"] for s in summaries)
    assert egg["finished"] == egg["trajectories"] == 2
    low, high = egg["ci95"]
    assert 0.0 <= low <= egg["success_rate"] <= high <= 1.0
    assert egg["mean_return"] == pytest.approx(np.mean([s["return"] for s in summaries]))
    smoke_cost = simulated_steps(make_config("smoke", "EggHandOver-v0"))
    assert egg["env_steps_per_trajectory"] == smoke_cost
    assert egg["budget_fraction"] == pytest.approx(smoke_cost / 20_200_000)
    assert egg["paper_success"] == [53, 54] and egg["paper_mppi_success"] == 0.19
    assert pen["success_rate"] is None and pen["ci95"] is None  # PenSpin has no success
    assert pen["final_d_pos_median"] is None
    # the distances left at the last step, from the trajectory files
    env = gym.make("EggHandOver-v0").unwrapped
    left = []
    for i in range(2):
        env.set_state(load_trajectory(in_process / f"EggHandOver-v0/traj_{i:03d}/trajectory.npz").states[-1])  # fmt: skip
        left.append(env.evaluate(env.data.qpos, env.data.qvel, env.goal).terms["d_pos"])
    assert egg["final_d_pos_median"] == pytest.approx(float(np.median(left)))
    assert "| EggHandOver-v0 | topdm | 2/2 |" in (in_process / "results.md").read_text()


def test_resume_reads_its_state_from_the_folders(in_process: Path, tmp_path: Path) -> None:
    """A campaign interrupted anywhere: one trajectory part-way, one never started, one done.
    ``--resume`` leaves the finished one alone and ends with the uninterrupted result."""
    out = tmp_path / "resumed"
    args = smoke(out)
    jobs = prepare_campaign(args)
    done, partial = jobs[0], jobs[1]
    run_trajectory(done.env_id, done.config, done.seed, done.folder, video=False)
    run_trajectory(partial.env_id, partial.config, partial.seed, partial.folder, resume=True, video=False, max_steps=2, index=partial.index)  # fmt: skip
    finished_at = (done.folder / "trajectory.npz").stat().st_mtime_ns
    assert campaign.read_job_state(partial).steps == 2
    run_campaign(smoke(out, resume=True), stream=open(os.devnull, "w"))  # noqa: SIM115
    assert (done.folder / "trajectory.npz").stat().st_mtime_ns == finished_at
    assert_same_trajectories(in_process, out)


def test_cli_mistakes_are_one_line_and_leave_nothing(tmp_path: Path) -> None:
    out = tmp_path / "c"
    cases = [
        ["--envs", "NoSuchEnv-v0", "--preset", "smoke", "--out", str(out)],
        ["--envs", "EggHandOver-v0", "--preset", "smoke", "--out", str(out), "--set", "k0=abc"],
        ["--envs", "EggHandOver-v0", "--preset", "smoke", "--out", str(out), "--set", "k0=0"],
        ["--envs", "EggHandOver-v0", "EggHandOver-v0", "--preset", "smoke", "--out", str(out)],
        [
            "--envs",
            "EggHandOver-v0",
            "--preset",
            "smoke",
            "--out",
            str(out),
            "--local",
            "--ray-address",
            "auto",
        ],
        ["--envs", "EggHandOver-v0", "--preset", "smoke", "--out", str(out), "--resume"],
    ]
    for argv in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "baselines.topdm.campaign", *argv],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 2, (argv, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 or "usage:" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
        assert not out.exists(), argv


def test_the_option_is_named_and_a_missing_ray_cluster_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "c"
    for argv, says in [
        (["--envs", "Foo-v0", "--local"], "error: --envs: unknown environment ID 'Foo-v0'"),
        (
            ["--envs", "EggHandOver-v0", "--ray-address", "auto"],
            "error: --ray-address auto: no Ray cluster found",
        ),
    ]:
        if "--ray-address" in argv:
            pytest.importorskip("ray")
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        proc = subprocess.run([sys.executable, "-m", "baselines.topdm.campaign", *argv,
                               "--preset", "smoke", "--out", str(out)],
                              capture_output=True, text=True, env=env)  # fmt: skip
        assert proc.returncode == 2 and says in proc.stderr, proc.stderr
        assert "free disk space" not in proc.stderr and not out.exists()


def test_resume_with_other_settings_is_refused(in_process: Path) -> None:
    with pytest.raises(ValueError, match="trajectories"):
        prepare_campaign(smoke(in_process, resume=True, trajectories=3))
    with pytest.raises(ValueError, match="overrides"):
        prepare_campaign(smoke(in_process, resume=True, overrides=("beta=0.5",)))


def test_a_trajectory_in_use_is_not_run_twice(tmp_path: Path) -> None:
    folder = tmp_path / "traj_000"
    folder.mkdir()
    config = make_config("smoke", "EggHandOver-v0")
    code = (
        "import sys, time; from baselines.common.runfolder import folder_lock\n"
        f"with folder_lock({str(folder)!r}):\n    print('held', flush=True); time.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusyError, match=f"pid {holder.pid}"):
            run_trajectory("EggHandOver-v0", config, 0, folder, resume=True, video=False)
        assert not (folder / "checkpoints").exists()
    finally:
        holder.kill()
        holder.wait()
    with folder_lock(folder):  # released by the OS when its holder died
        pass


def test_ray_address_without_ray_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(campaign, "ray_available", lambda: False)
    args = smoke(tmp_path / "c", local=False, ray_address="auto")
    with pytest.raises(campaign.UserError, match=r"dexterous-gym\[distributed\]"):
        run_campaign(args, stream=open(os.devnull, "w"))  # noqa: SIM115


# --- Ray: a local cluster on loopback, started by the test -----------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A one-node Ray cluster of this test's own (``ray start --head --block``, its own token
    and temp dir), stopped with its head process at the end; yields (address, environment)."""
    pytest.importorskip("ray")
    import secrets

    port = _free_port()
    temp = tmp_path_factory.mktemp("ray")
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
    }
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
         "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    probe = "import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False); ray.shutdown()"
    deadline = time.monotonic() + 180
    while subprocess.run([sys.executable, "-c", probe, address], env=env, capture_output=True, timeout=120).returncode:  # fmt: skip
        assert head.poll() is None and time.monotonic() < deadline, "the Ray head did not start"
        time.sleep(1.0)
    try:
        yield address, env
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=120)
        except subprocess.TimeoutExpired:
            head.kill()


def _campaign_cli(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "baselines.topdm.campaign", *args]


def test_ray_cluster_gives_the_in_process_trajectories_bitwise(
    ray_cluster: tuple[str, dict[str, str]], in_process: Path, tmp_path: Path
) -> None:
    address, env = ray_cluster
    out = tmp_path / "ray"
    argv = ["--envs", *ENVS, "--preset", "smoke", "--trajectories", "2", "--out", str(out),
            "--ray-address", address, "--no-video", "--refresh", "0.5"]  # fmt: skip
    proc = subprocess.run(_campaign_cli(argv), capture_output=True, text=True, timeout=600, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_same_trajectories(in_process, out)
    worker = json.loads((out / "EggHandOver-v0/traj_000" / campaign.WORKER_FILE).read_text())
    assert worker["pid"] != os.getpid()  # it ran in a Ray worker


def test_a_killed_worker_is_rescheduled_and_resumes(
    ray_cluster: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """SIGKILL the Ray worker mid-trajectory: Ray reruns the task on a new worker, which
    continues from the last checkpoint; the trajectory equals an uninterrupted one."""
    address, env = ray_cluster
    steps = 40
    out = tmp_path / "killed"
    argv = ["--envs", "PenSpin-v0", "--preset", "smoke", "--trajectories", "1", "--out", str(out),
            "--ray-address", address, "--no-video", "--refresh", "0.5",
            "--set", f"traj_len={steps}"]  # fmt: skip
    proc = subprocess.Popen(_campaign_cli(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    folder = out / "PenSpin-v0" / "traj_000"
    job = None
    victim = None
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if job is None and (out / "PenSpin-v0" / "config.json").exists():
                job = campaign.Job("PenSpin-v0", 0, 0, folder, make_config("smoke", "PenSpin-v0", traj_len=steps).to_dict(), False)  # fmt: skip
            if job is not None and (folder / campaign.WORKER_FILE).exists():
                try:
                    done = campaign.read_job_state(job).steps
                except Exception:
                    done = 0
                if 3 <= done < steps - 5:
                    victim = json.loads((folder / campaign.WORKER_FILE).read_text())["pid"]
                    os.kill(victim, signal.SIGKILL)
                    break
            time.sleep(0.05)
        assert victim is not None, "the trajectory finished before it could be killed"
        _, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr[-2000:]
    rescheduled = json.loads((folder / campaign.WORKER_FILE).read_text())["pid"]
    assert rescheduled != victim
    reference = tmp_path / "reference"
    run_trajectory("PenSpin-v0", make_config("smoke", "PenSpin-v0", traj_len=steps), 0, reference, video=False)  # fmt: skip
    with np.load(reference / "trajectory.npz") as a, np.load(folder / "trajectory.npz") as b:
        assert all(np.array_equal(a[k], b[k], equal_nan=True) for k in a.files)


def test_without_ray_the_campaign_runs_in_this_process(
    in_process: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(campaign, "ray_available", lambda: False)

    def no_ray(*args: object, **kwargs: object) -> None:
        raise AssertionError("Ray was used")

    monkeypatch.setattr(campaign, "run_ray", no_ray)
    out = tmp_path / "no_ray"
    run_campaign(smoke(out, local=False), stream=open(os.devnull, "w"))  # noqa: SIM115
    assert_same_trajectories(in_process, out)


def test_campaign_figure_and_its_errors(in_process: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from baselines.topdm.report import main as report_main

    figure = tmp_path / "returns.png"
    assert report_main(["--campaigns", str(in_process), "--plot", str(figure)]) == 0
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit) as exit_info:
        report_main(["--campaigns", str(tmp_path), "--plot", str(figure)])
    assert exit_info.value.code == 2 and "not campaign folders" in capsys.readouterr().err
