"""Bit-for-bit fingerprints of short seeded swarm runs, to check that a refactor changes no result.

    python tests/swarm_gym/swarm_bitcheck.py record BEFORE.npz   # with the old code
    python tests/swarm_gym/swarm_bitcheck.py record AFTER.npz    # with the new code
    python tests/swarm_gym/swarm_bitcheck.py compare BEFORE.npz AFTER.npz
    python tests/swarm_gym/swarm_bitcheck.py results NEW_DIR docs/results/swarm

``record`` runs the plain FSM swarm (reference and clean variants, noise, the continuous model,
leaf counting with reachable counts), every steering mechanism (plain, gated, tolerance, align,
cohesion, belief with a lead distance, waypoints), both Gymnasium envs in every reward mode and
other-agents policy, the PettingZoo wrapper and a rendered frame, and stores every position,
heading, speed, action, count, observation and reward in one ``.npz``. ``compare`` exits 1 and
names the first differing array unless both files hold the same arrays, bit for bit. It uses only
the public API, so the same script records the code before and after a change (put the old
package first on ``PYTHONPATH``).

``results`` compares the files an experiment command wrote to ``NEW_DIR`` with those of the same
name in the reference folder: CSV, PNG and GIF files byte for byte, JSON files value for value
except the fields that describe the machine (``versions``, ``seconds_per_step``). It exits 1 if
any differs.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

METRIC_KEYS = ("order_parameter", "mean_nn_distance", "opacity", "sensor_on_fraction",
               "overlapping_pairs")  # fmt: skip


def _runs() -> dict[str, np.ndarray]:
    from swarm_gym import FSMSwarm, Steering, parallel_env
    from swarm_gym.envs import FSMFocalEnv, FSMSwarmEnv

    out: dict[str, np.ndarray] = {}

    def put(prefix: str, arrays: dict[str, Any]) -> None:
        for key, value in arrays.items():
            out[f"{prefix}/{key}"] = np.asarray(value)

    swarms = {
        "fsm_cpp": FSMSwarm(20, 3, seed=0),
        "fsm_clean_noise": FSMSwarm(
            12, 2, seed=1, variant="clean", turn_noise=0.05, speed_noise=0.3
        ),
        "fsm_continuous": FSMSwarm(10, 2, seed=2, model="continuous"),
        "fsm_random_heading": FSMSwarm(12, 2, seed=6, init_heading="random", box=40.0),
    }
    for name, sw in swarms.items():
        put(name, sw.run(25 if name == "fsm_cpp" else 12))
    sw = FSMSwarm(10, 3, seed=3, count_depths="leaf")
    sw.collect_reachable = True
    reach, counts = [], []
    for _ in range(8):
        dec = sw.decide()
        reach.append(dec.reachable)
        counts.append(dec.counts)
        sw.step()
    put("fsm_leaf_reachable", {"reach": reach, "counts": counts, "positions": sw.positions})

    steering = {
        "plain": {"strength": 0.5, "turn_angle": math.pi / 2, "turn_step": 8},
        "gated": {"strength": 10.0, "gate": 0.3, "turn_angle": math.pi / 2, "turn_step": 8},
        "tolerance": {"strength": 100.0, "tolerance": 0.7, "gate": 0.3, "target_angle": 1.0},
        "align": {"strength": 2.0, "align": 1.0, "target_angle": 0.5},
        "cohesion": {"strength": 2.0, "cohesion": 1.0, "target_angle": -0.5},
        "belief": {"strength": 0.0, "belief_turn": math.pi / 6, "lead_distance": 60.0,
                   "turn_angle": math.pi / 2, "turn_step": 4},
        "belief_gated_bias": {"strength": 1.0, "belief_turn": math.pi / 4, "gate": 0.6,
                              "target_angle": math.pi / 2},
        "waypoints": {"fraction": 0.3, "strength": 10.0, "gate": 0.3, "reach": 40.0,
                      "waypoints": np.array([[150.0, 50.0], [250.0, 150.0]])},
    }  # fmt: skip
    for name, kw in steering.items():
        st = Steering(seed=2, **{"fraction": 0.25, **kw})
        sw = FSMSwarm(16, 3, seed=5, steering=st)
        put(f"steer_{name}", sw.run(20))
        out[f"steer_{name}/informed"] = np.asarray(st.informed)
        out[f"steer_{name}/reached_at"] = np.asarray(st.reached_at, dtype=np.int64)
    st = Steering(fraction=0.5, strength=1.0, seed=0, target_angle=1.0)
    put("steer_continuous", FSMSwarm(8, 2, seed=4, model="continuous", steering=st).run(10))

    rng = np.random.default_rng(123)
    for mode in ("log_count", "normalized", "regret", "empowerment_next"):
        env = FSMSwarmEnv(n_agents=10, horizon=2, max_steps=50, reward_mode=mode)
        obs, info = env.reset(seed=7)
        rec: dict[str, list[Any]] = {"obs": [obs], "positions": [info["positions"]],
                                     "rewards": [], "expert": [info["expert_action"]]}  # fmt: skip
        for t in range(8):
            act = info["expert_action"] if t % 2 == 0 else rng.integers(0, 5, size=10)
            obs, r, _, _, info = env.step(act)
            rec["obs"].append(obs)
            rec["positions"].append(info["positions"])
            rec["rewards"].append(info["rewards"])
            rec["expert"].append(info["expert_action"])
            rec.setdefault("metrics", []).append([info[k] for k in METRIC_KEYS])
        put(f"env_{mode}", rec)
    env = FSMSwarmEnv(n_agents=8, horizon=2, reward_mode="soft", model="continuous")
    _, info = env.reset(seed=1)
    soft = [env.step(info["expert_action"])[1] for _ in range(4)]
    put("env_soft", {"rewards": soft, "positions": env.swarm.positions})

    for others in ("fsm", "ballistic", "random"):
        env = FSMFocalEnv(n_agents=8, horizon=2, focal=3, others_policy=others, lost_steps=3)
        obs, info = env.reset(seed=9)
        rec = {"obs": [obs], "positions": [info["positions"]], "rewards": [], "done": []}
        for t in range(8):
            obs, r, term, trunc, info = env.step(int(info["expert_action"]) if t % 3 else t % 5)
            rec["obs"].append(obs)
            rec["positions"].append(info["positions"])
            rec["rewards"].append(r)
            rec["done"].append([term, trunc])
        put(f"focal_{others}", rec)

    pz = parallel_env(n_agents=6, horizon=2, max_steps=10)
    obs, infos = pz.reset(seed=3)
    states, rewards, observations = [pz.state()], [], []
    for _ in range(6):
        acts = {a: infos[a]["expert_action"] for a in pz.agents}
        obs, rew, _, _, infos = pz.step(acts)
        states.append(pz.state())
        rewards.append([rew[a] for a in pz.possible_agents])
        observations.append([obs[a] for a in pz.possible_agents])
    put("pettingzoo", {"state": states, "rewards": rewards, "obs": observations})

    env = FSMSwarmEnv(n_agents=10, horizon=2, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(np.full(10, 3))
    out["render/frame"] = env.render()
    return out


def compare(a_path: Path, b_path: Path) -> int:
    """Print the verdict; return 0 when both files hold the same arrays bit for bit, else 1."""
    a, b = np.load(a_path), np.load(b_path)
    if sorted(a.files) != sorted(b.files):
        print(f"different arrays: {sorted(set(a.files) ^ set(b.files))}")
        return 1
    for key in sorted(a.files):
        x, y = a[key], b[key]
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            print(f"{key}: differs ({x.dtype}{x.shape} vs {y.dtype}{y.shape})")
            return 1
    print(f"identical: {len(a.files)} arrays, bit for bit")
    return 0


IGNORED_JSON_KEYS = ("versions", "seconds_per_step")


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in IGNORED_JSON_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def compare_results(new_dir: Path, ref_dir: Path) -> int:
    """Print one line per file of ``new_dir``; return 0 when all equal their reference."""
    import json

    bad = 0
    files = sorted(f for f in new_dir.iterdir() if f.is_file())
    for f in files:
        ref = ref_dir / f.name
        if not ref.exists():
            print(f"{f.name}: no reference file")
            bad += 1
            continue
        if f.suffix == ".json":
            same = json.dumps(_strip(json.loads(f.read_text()))) == json.dumps(
                _strip(json.loads(ref.read_text()))
            )
            how = "values, less versions and timings"
        else:
            same = f.read_bytes() == ref.read_bytes()
            how = "bytes"
        print(f"{f.name}: {'identical' if same else 'DIFFERENT'} ({how})")
        bad += not same
    print(f"{len(files) - bad} of {len(files)} files identical")
    return 1 if bad or not files else 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "record":
        arrays = _runs()
        np.savez(argv[1], **arrays)  # type: ignore[arg-type]
        print(f"recorded {len(arrays)} arrays to {argv[1]}")
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        return compare(Path(argv[1]), Path(argv[2]))
    if len(argv) == 3 and argv[0] == "results":
        return compare_results(Path(argv[1]), Path(argv[2]))
    print(
        "usage: swarm_bitcheck.py record OUT.npz | compare A.npz B.npz | results NEW_DIR REF_DIR",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
