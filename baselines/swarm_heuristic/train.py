"""Train the FSM heuristic: ``python -m baselines.swarm_heuristic.train``.

    python -m baselines.swarm_heuristic.train --data data/fsm_small --out runs/heur --sweep

An MLP (ReLU hidden layers, softmax over the 5 moves) on the 2 n_s = 80 binary inputs [previous,
current visual state], trained with cross-entropy against a soft target, uniform over the moves
tied for the FSM maximum. The runs of the data folder are split by run: the last ``test_runs`` are
held out for the reported scores (``--extra-data``, e.g. DAgger runs, adds training runs only), the ``val_runs`` before them choose the epoch (and, with
``--sweep``, the widths and depth), the rest train. Scores on a split: ``top1`` (the most probable
move is the FSM's choice), ``tied`` (it is one of the tied-best moves) and ``tied_mass`` (the
probability the network puts on the tied-best moves: the agreement of a sampled move).

``--select-by flight`` chooses the epoch (every ``--flight-every``-th) and architecture by how the
network flies (:mod:`baselines.swarm_heuristic.flight`: the greedy net moves every agent of an N =
50, tau = 4 swarm on validation seeds; the minimum of the order parameter and the largest cluster
fraction over the last half of ``--flight-steps``), and lists every flown candidate's scores in
``summary.json`` (``flight_candidates``). ``--target fsm`` trains on a one-hot of the FSM's own
choice (its tie rule applied) instead of the uniform over the tied moves; ``--mirror`` adds the left-right mirror image of every training
decision (:mod:`baselines.swarm_heuristic.mirror`: the sensor order reversed, right and left
swapped), which the FSM's symmetry makes as valid as the recorded one.

Writes ``config.json``, ``versions.json``, ``sweep.csv`` (one row per architecture),
``summary.json`` and ``weights.npz`` (the chosen network, in the format of
:mod:`swarm_gym.heuristic`; copy it to ``swarm_gym/data/`` to ship it).
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from baselines.common.cli import (
    MAX_SEED,
    config_to_dict,
    option,
    parse_config,
    require_extra,
    run_cli,
)
from baselines.swarm_heuristic.dataset import Samples, load_samples
from baselines.swarm_heuristic.flight import FLIGHT_SEEDS, FLIGHT_STEPS, flight_score
from baselines.swarm_heuristic.mirror import mirror_samples, with_mirror
from swarm_gym.heuristic import HeuristicPolicy

PROG = "python -m baselines.swarm_heuristic.train"

#: The architectures of ``--sweep``: hidden widths.
SWEEP: tuple[tuple[int, ...], ...] = (
    (64,), (256,), (64, 64), (128, 128), (256, 256), (128, 128, 128),
)  # fmt: skip


@dataclass(frozen=True)
class TrainConfig:
    """One training run (and optionally the architecture sweep)."""

    data: Path = option(help="data folder of the record command", required=True)
    out: Path = option(help="run folder (new)", required=True)
    extra_data: Path | None = option(
        None, help="a second data folder (e.g. heuristic-flown, DAgger) whose runs all train"
    )
    hidden: tuple[int, ...] = option((128, 128), help="hidden widths, e.g. 128,128")
    sweep: bool = option(False, help="train every architecture of SWEEP, keep the best on val")
    epochs: int = option(30, help="passes over the training runs", minimum=1)
    batch: int = option(512, help="minibatch size", minimum=1)
    lr: float = option(1e-3, help="Adam learning rate", positive=True)
    test_runs: int = option(2, help="runs held out for the reported scores", minimum=1)
    val_runs: int = option(1, help="runs that choose the epoch and architecture", minimum=1)
    target: Literal["tied", "counts", "fsm"] = option(
        "tied",
        help="target: uniform over the tied-best moves, softmax(beta * counts), or one-hot on the "
        "FSM's choice (its tie rule applied)",
    )
    beta: float = option(0.5, help="inverse temperature of the counts target", positive=True)
    mirror: bool = option(
        False, help="add the left-right mirror image of every training decision (mirror.py)"
    )
    select_by: Literal["accuracy", "flight"] = option(
        "accuracy",
        help="choose the epoch and architecture by the val tied score, or by flying them "
        "(flight.py: min of order parameter and largest cluster on validation seeds)",
    )
    flight_every: int = option(5, help="with --select-by flight: fly every k-th epoch (and the "
                               "last)", minimum=1)  # fmt: skip
    flight_steps: int = option(FLIGHT_STEPS, help="steps of one validation flight", minimum=2)
    flight_seeds: tuple[int, ...] = option(FLIGHT_SEEDS, help="validation flight seeds, e.g. "
                                           "900,901 (not the test seeds 0, 1, 2)")  # fmt: skip
    skip_steps: int = option(0, help="leave out the first steps of every run", minimum=0)
    seed: int = option(0, help="torch seed", minimum=0, maximum=MAX_SEED)
    threads: int = option(1, help="torch threads", minimum=1, maximum=64)


def split_runs(runs: np.ndarray, test_runs: int, val_runs: int) -> dict[str, list[int]]:
    """Run indices per split: test = the last ``test_runs``, val = the ``val_runs`` before."""
    ids = sorted({int(r) for r in runs})
    if len(ids) < test_runs + val_runs + 1:
        raise ValueError(f"the data has {len(ids)} runs; test_runs={test_runs} and "
                         f"val_runs={val_runs} need at least {test_runs + val_runs + 1}")  # fmt: skip
    n_train = len(ids) - test_runs - val_runs
    return {"train": ids[:n_train], "val": ids[n_train : n_train + val_runs],
            "test": ids[n_train + val_runs :]}  # fmt: skip


def soft_target(tied: np.ndarray, counts: np.ndarray, kind: str, beta: float,
                action: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """(S, 5) training target: uniform over the tied-best moves (``"tied"``), softmax(beta *
    counts) (``"counts"``), or one-hot on the FSM's choice ``action`` (``"fsm"``).

    ``"tied"`` teaches that every tied-best move is as good; ``"fsm"`` teaches the move the FSM
    takes, its config's tie rule applied (``"cpp"``: a turn before slow, keep, fast, the two
    turns by a coin flip), so that a greedy network breaks ties as the FSM does.
    """
    if kind == "tied":
        return tied / tied.sum(axis=1, keepdims=True)
    if kind == "fsm":
        if action is None:
            raise ValueError("the 'fsm' target needs the FSM's choices (action), got None")
        return np.eye(5)[np.asarray(action, dtype=np.int64)]
    if kind != "counts":
        raise ValueError(f"target must be one of 'tied', 'counts', 'fsm', got {kind!r}")
    z = beta * (counts - counts.max(axis=1, keepdims=True)).astype(np.float64)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def scores(probs: np.ndarray, action: np.ndarray, tied: np.ndarray,
           counts: np.ndarray) -> dict[str, float]:  # fmt: skip
    """Agreement of (S, 5) probabilities with the FSM: ``top1``, ``tied``, ``tied_mass``, and
    ``count_ratio``, the mean of n(most probable move) / max n (1 for an FSM-optimal move)."""
    top = probs.argmax(axis=1)
    rows = np.arange(len(top))
    best = np.maximum(counts.max(axis=1), 1)
    return {
        "top1": float(np.mean(top == action)),
        "tied": float(np.mean(tied[rows, top])),
        "tied_mass": float(np.mean((probs * tied).sum(axis=1))),
        "count_ratio": float(np.mean(counts[rows, top] / best)),
    }


def _mlp(hidden: tuple[int, ...], n_in: int) -> Any:
    import torch  # the optional baselines extra

    layers: list[Any] = []
    width = n_in
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers.append(torch.nn.Linear(width, 5))
    return torch.nn.Sequential(*layers)


def _probs(model: Any, x: Any) -> np.ndarray:
    import torch  # the optional baselines extra

    with torch.no_grad():
        return torch.softmax(model(x), dim=1).double().numpy()


def train_one(
    hidden: tuple[int, ...],
    data: dict[str, Any],
    cfg: TrainConfig,
    log: Any = print,
    model_name: str = "discrete",
) -> tuple[Any, dict[str, Any]]:
    """Train one architecture; keep the epoch with the best val ``tied`` score or, with
    ``select_by="flight"``, the flown epoch (every ``flight_every``-th and the last) with the best
    :func:`~baselines.swarm_heuristic.flight.flight_score` (ties: the earlier). The result's
    ``flight_candidates`` lists every flown epoch's scores."""
    import torch  # the optional baselines extra

    torch.manual_seed(cfg.seed)
    x, target = data["train"]["x_t"], data["train"]["target_t"]
    model = _mlp(hidden, x.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    best: dict[str, Any] = {"val": {"tied": -1.0}, "flight": {"flight": -1.0}}
    best_state = copy.deepcopy(model.state_dict())
    candidates: list[dict[str, Any]] = []
    n_s = x.shape[1] // 2
    start = time.perf_counter()
    for epoch in range(cfg.epochs):
        perm = torch.randperm(x.shape[0], generator=gen)
        for i in range(0, x.shape[0], cfg.batch):
            idx = perm[i : i + cfg.batch]
            loss = torch.nn.functional.cross_entropy(model(x[idx]), target[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        v = data["val"]
        val = scores(_probs(model, v["x_t"]), v["action"], v["tied"], v["counts"])
        if cfg.select_by == "accuracy":
            if val["tied"] > best["val"]["tied"]:
                best = {"epoch": epoch + 1, "val": val}
                best_state = copy.deepcopy(model.state_dict())
        elif (epoch + 1) % cfg.flight_every == 0 or epoch + 1 == cfg.epochs:
            policy = HeuristicPolicy.from_arrays(export(model, n_s, {"model": model_name}))
            flown = flight_score(policy, cfg.flight_seeds, cfg.flight_steps, model_name)
            candidates.append({"hidden": list(hidden), "epoch": epoch + 1, "val_tied": val["tied"],
                               **flown})  # fmt: skip
            log(f"hidden {list(hidden)} epoch {epoch + 1}: flight {flown['flight']:.3f} (order "
                f"{flown['order']:.3f}, cluster {flown['cluster']:.3f}), val tied "
                f"{val['tied']:.3f}")  # fmt: skip
            if flown["flight"] > best["flight"]["flight"]:
                best = {"epoch": epoch + 1, "val": val, "flight": flown}
                best_state = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    result = {
        "hidden": list(hidden),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "best_epoch": best["epoch"],
        "train_seconds": time.perf_counter() - start,
    }
    if cfg.select_by == "flight":
        result.update({f"flight_{k}": best["flight"][k] for k in ("order", "cluster")})
        result["flight"] = best["flight"]["flight"]
    for split in ("train", "val", "test"):
        d = data[split]
        got = scores(_probs(model, d["x_t"]), d["action"], d["tied"], d["counts"])
        for key, value in got.items():
            result[f"{split}_{key}"] = value
    log(f"hidden {list(hidden)}: best epoch {result['best_epoch']}, val top1 "
        f"{result['val_top1']:.3f} tied {result['val_tied']:.3f}, test top1 "
        f"{result['test_top1']:.3f} tied {result['test_tied']:.3f} "
        f"({result['train_seconds']:.0f} s)")  # fmt: skip
    result["flight_candidates"] = candidates
    return model, result


def export(model: Any, n_sensors: int, meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The weights-file arrays of a trained model (see :mod:`swarm_gym.heuristic`)."""
    import torch  # the optional baselines extra

    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    weights = [m.weight.detach().double().numpy().T.copy() for m in linears]
    biases = [m.bias.detach().double().numpy().copy() for m in linears]
    return HeuristicPolicy(weights, biases, n_sensors, meta).to_arrays()


def train(cfg: TrainConfig, log: Any = print, more_data: Sequence[Path] = ()) -> dict[str, Any]:
    """Train (see :func:`_train`) with ``cfg.out`` locked, so a second process on it stops at once.

    ``more_data``: data folders whose runs all train, after ``cfg.extra_data`` (the DAgger
    driver's aggregated rounds)."""
    # baselines.common.runfolder imports dexterous_gym (MuJoCo): loaded when a run starts, not
    # for --help
    from baselines.common.runfolder import run_folder_lock

    with run_folder_lock(cfg.out):
        return _train(cfg, log, more_data)


def _train(cfg: TrainConfig, log: Any = print, more_data: Sequence[Path] = ()) -> dict[str, Any]:
    """Load the data, train (or sweep), write the run folder; return the summary."""
    import torch  # the optional baselines extra

    from baselines.common.runfolder import (  # as in train()
        atomic_write,
        prepare_run_folder,
        read_json,
        write_csv,
        write_json,
    )

    torch.set_num_threads(cfg.threads)
    recording: dict[str, Any] = {"data": read_json(Path(cfg.data) / "config.json", expect=dict)}
    extras = ([Path(cfg.extra_data)] if cfg.extra_data is not None else []) + list(more_data)
    for i, folder in enumerate(extras):
        key = "extra_data" if i == 0 else f"extra_data_{i}"
        recording[key] = read_json(folder / "config.json", expect=dict)
    # recordings made before ``--model`` existed are of the discrete model
    models_of = {k: c.get("model", "discrete") for k, c in recording.items()}
    if len(set(models_of.values())) > 1:
        raise ValueError(f"--data and --extra-data record different FSM models ({models_of}); "
                         "train on decisions of one model")  # fmt: skip
    samples = load_samples(cfg.data, cfg.skip_steps)
    splits = split_runs(samples.run, cfg.test_runs, cfg.val_runs)
    out = prepare_run_folder(cfg.out, {**config_to_dict(cfg), "algorithm": "swarm_heuristic"},
                             resume=False)  # fmt: skip
    data: dict[str, Any] = {}
    extra = _concat([load_samples(f, cfg.skip_steps) for f in extras]) if extras else None
    tie_rate = float(np.mean(samples.tied.sum(axis=1) > 1))  # of the recorded decisions
    if cfg.mirror:  # only the training split grows: val and test scores stay those of real runs
        train_runs = np.isin(samples.run, splits["train"])
        image = mirror_samples(Samples(samples.x[train_runs], samples.action[train_runs],
                                       samples.tied[train_runs], samples.counts[train_runs],
                                       samples.run[train_runs]))  # fmt: skip
        samples = _concat([samples, image])
        extra = with_mirror(extra) if extra is not None else None
    for name, ids in splits.items():
        sel = np.isin(samples.run, ids)
        x, tied, counts = samples.x[sel], samples.tied[sel], samples.counts[sel]
        action = samples.action[sel]
        if name == "train" and extra is not None:
            x, tied = np.concatenate([x, extra.x]), np.concatenate([tied, extra.tied])
            counts = np.concatenate([counts, extra.counts])
            action = np.concatenate([action, extra.action])
        target = soft_target(tied, counts, cfg.target, cfg.beta, action)
        data[name] = {"x_t": torch.from_numpy(x.astype(np.float32)),
                      "target_t": torch.from_numpy(target.astype(np.float32)),
                      "action": action, "tied": tied, "counts": counts}  # fmt: skip
    archs = SWEEP if cfg.sweep else (cfg.hidden,)
    results, models = [], []
    for hidden in archs:
        model, result = train_one(tuple(hidden), data, cfg, log, models_of["data"])
        results.append(result)
        models.append(model)
    candidates = [c for result in results for c in result.pop("flight_candidates")]
    select_key = "flight" if cfg.select_by == "flight" else "val_tied"
    best = max(range(len(results)), key=lambda k: results[k][select_key])
    n_s = samples.x.shape[1] // 2
    sizes = {name: int(d["action"].shape[0]) for name, d in data.items()}
    chosen = results[best]
    summary = {"splits": splits, "samples": sizes, "chosen": chosen, "sweep": results,
               "tie_rate": tie_rate, "select_by": cfg.select_by}  # fmt: skip
    if cfg.select_by == "flight":
        summary["flight_candidates"] = candidates
    meta = {"model": models_of["data"],
            "training": {"data": recording, "samples": sizes, "splits": splits,
                         "best_epoch": chosen["best_epoch"], "target": cfg.target,
                         "mirror": cfg.mirror, "select_by": cfg.select_by,
                         **{k: v for k, v in chosen.items()
                            if k.startswith(("test_", "flight"))}}}  # fmt: skip
    arrays = export(models[best], n_s, meta)
    atomic_write(out / "weights.npz", lambda f: save_npz(f, arrays))
    write_csv(out / "sweep.csv", results, list(results[0]))
    write_json(out / "summary.json", summary)
    log(f"chosen hidden {chosen['hidden']}: test top1 {chosen['test_top1']:.3f}, tied "
        f"{chosen['test_tied']:.3f}, tied mass {chosen['test_tied_mass']:.3f}; {out}")  # fmt: skip
    return summary


def _concat(parts: Sequence[Samples]) -> Samples:
    """The samples of ``parts`` one after the other."""
    return Samples(*(np.concatenate([getattr(p, name) for p in parts])
                     for name in ("x", "action", "tied", "counts", "run")))  # fmt: skip


def save_npz(handle: Any, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` of named arrays to an open binary file."""
    np.savez(handle, **arrays)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    config = parse_config(TrainConfig, argv, PROG,
                        description="Train the MLP heuristic on recorded FSM decisions.")  # fmt: skip

    def body() -> int:
        require_extra("torch", "baselines", PROG)
        train(config)
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
