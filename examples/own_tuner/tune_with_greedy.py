"""Tune a function with the tuner of examples/own_tuner/greedy_tuner.py, through the Python API.

    python examples/own_tuner/tune_with_greedy.py [FOLDER]

`config_dir` points llmhpo at this folder's conf/, where conf/tuner/greedy.yaml names the
tuner's class; the class's module must be importable (here: it sits beside this script).
The study resumes when run again, like any other.
"""

import sys
from pathlib import Path

import llmhpo

HERE = Path(__file__).resolve().parent
# greedy_tuner.py importable, as the YAML's _target_ names it
sys.path.insert(0, str(HERE))


def quadratic(config: dict) -> float:
    return (config["x"] - 1.0) ** 2 + (config["y"] + 2.0) ** 2


space = {
    "x": {"type": "float", "low": -5.0, "high": 5.0},
    "y": {"type": "float", "low": -5.0, "high": 5.0},
}
folder = sys.argv[1] if len(sys.argv) > 1 else "outputs/greedy"
study = llmhpo.Study(space, "greedy", budget=12, seed=0, folder=folder, config_dir=HERE / "conf")
summary = study.optimize(quadratic)
print(f"best value {summary['best_value']:.4f} at {summary['best_config']}")
