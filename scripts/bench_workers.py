"""Benchmark many workers, one study, on a simulated clock (not a test).

Each trial is a lookup in HPOBench's MLP table and lasts, on a virtual clock, the training
time the table records for it (its `train_time`), as OptunaHub's asynchronous simulator does:
nothing sleeps. The study is the real StudyLoop with the executor's two modes:
- async: a worker that frees is given the next trial at once, the tuner knowing the trials
  still running (TPE through Optuna's constant liar, the LLM through its prompt);
- batch: `workers` trials at a time, the next batch once the slowest of the last has ended.

The coordinator is one process: each proposal takes as long on the clock as it took on this
machine (what a slow tuner, an LLM, costs its workers). Printed per tuner, workers and mode,
as means over seeds: the simulated time to spend the budget; the idle worker fraction over
that time, and over the time before the last trial started (after it, fewer trials are left
than workers, whatever the mode); the best validation error reached by the time the faster
of the two modes ends (equal time), and at each mode's end.

    python scripts/bench_workers.py                          # random and TPE, 5 seeds
    python scripts/bench_workers.py --tuners llm-local --seeds 1 --budget 32 --workers 4 16
"""

from __future__ import annotations

import argparse
import heapq
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from bench_toy import local_llm_tuner  # a script beside this one (sys.path[0])
from omegaconf import OmegaConf

from llmhpo.objectives.hpobench import HPOBenchObjective
from llmhpo.study import StudyLoop
from llmhpo.study.executor import Executor
from llmhpo.tuners.base import Tuner
from llmhpo.tuners.bo import OptunaTuner
from llmhpo.tuners.random import RandomTuner

CONF = Path(__file__).resolve().parents[1] / "src" / "llmhpo" / "conf"
TUNERS: dict[str, Callable[[HPOBenchObjective, int, int], Tuner]] = {
    "random": lambda objective, seed, budget: RandomTuner(objective.search_space, seed),
    "bo-tpe": lambda objective, seed, budget: OptunaTuner(
        objective.search_space, seed, sampler="tpe"
    ),
    "llm-local": local_llm_tuner,  # scripts/bench_toy.py's: tuner=llm, the embedded model
}


def hpobench(dataset: str, seed: int) -> HPOBenchObjective:
    node = OmegaConf.load(CONF / "objective" / "hpobench.yaml").objective
    datasets = OmegaConf.to_container(node.datasets)
    return HPOBenchObjective(dataset, datasets, node.model_description, seed=seed)


def simulate(folder: Path, tuner_name: str, dataset: str, seed: int, budget: int,
             workers: int, mode: str) -> list[tuple[float, float, float]]:  # fmt: skip
    """One study on the virtual clock: each trial's (start, end, value). The coordinator is
    one process: each proposal takes as long on the clock as it took here, one at a time."""
    objective = hpobench(dataset, seed)
    tuner = TUNERS[tuner_name](objective, seed, budget)
    executor = Executor("local", workers, mode=mode)
    batch_size = workers if mode == "batch" else 1
    loop = StudyLoop(folder, objective.search_space, tuner, objective, budget,
                     batch_size=batch_size, executor=executor)  # fmt: skip
    trials: list[tuple[float, float, float]] = []
    clock = 0.0

    def proposed(ask: Callable[[], object]) -> object:
        nonlocal clock
        started = time.perf_counter()
        asked = ask()
        clock += time.perf_counter() - started
        return asked

    if mode == "async":
        running: list[tuple[float, int, float, object, object]] = []
        while True:
            while len(running) < workers and (request := proposed(loop.ask)) is not None:
                evaluation = objective.evaluate(request.config)
                end = clock + evaluation.metrics["train_seconds"]
                heapq.heappush(running, (end, request.round, clock, request, evaluation))
            if not running:
                break
            end, _, start, request, evaluation = heapq.heappop(running)
            clock = max(clock, end)
            loop.tell(request, evaluation.value, evaluation.metrics)
            trials.append((start, end, evaluation.value))
    else:
        while batch := proposed(loop.ask_batch):
            evaluations = [objective.evaluate(request.config) for request in batch]
            ends = [clock + e.metrics["train_seconds"] for e in evaluations]
            for request, evaluation, end in sorted(
                zip(batch, evaluations, ends, strict=True), key=lambda t: t[2]
            ):
                loop.tell(request, evaluation.value, evaluation.metrics)
                trials.append((clock, end, evaluation.value))
            clock = max(ends)
    loop.finish()
    return trials


def idle(trials: list[tuple[float, float, float]], workers: int, until: float) -> float:
    """The fraction of the workers' time in [0, until] that no trial used."""
    busy = sum(max(0.0, min(end, until) - start) for start, end, _ in trials)
    return 1 - busy / (workers * until)


def best_by(trials: list[tuple[float, float, float]], time: float) -> float:
    values = [value for _, end, value in trials if end <= time]
    return min(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--tuners", nargs="+", default=["random", "bo-tpe"], choices=list(TUNERS))
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 4, 16])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=64)
    parser.add_argument("--dataset", default="australian")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for tuner in args.tuners:
            for workers in args.workers:
                for seed in range(args.seeds):
                    runs = {
                        mode: simulate(Path(tmp) / f"{tuner}-{workers}-{mode}-{seed}", tuner,
                                       args.dataset, seed, args.budget, workers, mode)
                        for mode in ("async", "batch")
                    }  # fmt: skip
                    ends = {mode: max(e for _, e, _ in run) for mode, run in runs.items()}
                    equal_time = min(ends.values())
                    for mode, run in runs.items():
                        last_start = max(start for start, _, _ in run)
                        rows.append({
                            "tuner": tuner, "workers": workers, "mode": mode, "seed": seed,
                            "sim_hours": ends[mode] / 3600,
                            "idle": idle(run, workers, ends[mode]),
                            "idle_before_last_start": idle(run, workers, last_start),
                            "best_at_equal_time": best_by(run, equal_time),
                            "best_at_end": best_by(run, ends[mode]),
                        })  # fmt: skip
    frame = pd.DataFrame(rows)
    table = frame.groupby(["tuner", "workers", "mode"]).agg(
        sim_hours=("sim_hours", "mean"),
        idle=("idle", "mean"),
        idle_before_last_start=("idle_before_last_start", "mean"),
        best_at_equal_time=("best_at_equal_time", "mean"),
        best_at_end=("best_at_end", "mean"),
    )
    with pd.option_context(
        "display.width", 160, "display.max_columns", 10, "display.float_format", "{:.4f}".format
    ):
        print(f"HPOBench MLP {args.dataset}, budget {args.budget}, {args.seeds} seed(s):")
        print(table)
    speed = frame.pivot_table(index=["tuner", "workers", "seed"], columns="mode",
                              values="sim_hours")  # fmt: skip
    ratio = (speed["batch"] / speed["async"]).groupby(["tuner", "workers"]).mean()
    print("\nbatch's simulated time / async's (mean over seeds):")
    print(ratio.map("{:.2f}".format).to_string())


if __name__ == "__main__":
    main()
