"""Every command in the README and the docs pages runs, so that an example cannot rot.

Each ```bash block of a page is run in order in its own folder, each command as written
plus the overrides that make it tiny (`SHRINK`): 2 trials, 1 epoch, 2 seeds of a sweep, the
real CIFAR-10 format from a fixture copy, and, for commands that call a paid LLM, the
embedded model served over HTTP by llama.cpp's OpenAI-compatible server on 127.0.0.1 with a
key in the environment. What cannot run here is listed in `SKIPPED` with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.data import write_cifar_copy

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

# Commands that cannot run on a machine without a GPU, a cluster or the make targets' side
# effects; each says where its content is tested instead.
SKIPPED = {
    "trainer=gpu": "needs a CUDA GPU (tests/test_gpu.py runs trials there, -m gpu)",
    "hydra/launcher=slurm": "needs a SLURM cluster (tests/test_slurm.py runs a multirun there)",
    "executor=slurm": "needs a SLURM cluster (tests/test_slurm.py runs a study there, -m slurm)",
    "make ": "make run is experiment=quickstart, run here; make test is this suite; make bench "
    "is scripts/bench_toy.py (tests/test_benchmarks.py)",
    "scripts/bench_toy.py": "minutes to hours at the page's size; tests/test_benchmarks.py runs it "
    "at a tiny one",
    "scripts/bench_workers.py": "tests/test_benchmarks.py runs it at a tiny size",
    "scripts/bench_loop.py": "tests/test_benchmarks.py runs it at a tiny size",
}
LEADERBOARD_TASKS = (
    "hpobench-australian", "bayesmark-DecisionTree-wine", "hpolib-naval_propulsion",
    "nb201-cifar10",
)  # fmt: skip
# The tasks a suite's command runs here (key, value): a few of its sweep.
SUITE_TASKS = {
    "hpobench_suite": [("objective.dataset", "australian,car")],
    "sklearn_suite": [("objective.dataset", "iris"), ("objective.model", "svm,lr")],
    "bayesmark_suite": [("objective.dataset", "wine"), ("objective.model", "DecisionTree")],
    "hpolib_suite": [("objective.dataset", "naval_propulsion")],
    "nb201_suite": [("objective.dataset", "cifar10")],
    # a task of each benchmark, which the page's aggregation commands read
    "leaderboard": [("task", ",".join(LEADERBOARD_TASKS))],
}
NOT_COMMANDS = ("#", ". .venv/bin/activate", "export ")
SHELL = ("mkdir ",)  # run as written, by the shell


def page_blocks() -> list[tuple[str, list[str]]]:
    """(page:line, commands) of every ```bash block that holds a command, on every page."""
    blocks = []
    for page in PAGES:
        current, start = None, 0
        for number, line in enumerate(page.read_text().splitlines(), start=1):
            if line.strip() == "```bash":
                current, start = [], number
            elif line.strip() == "```" and current is not None:
                if any(command.startswith(("python", "make", "llmhpo")) for command in current):
                    blocks.append((f"{page.relative_to(REPO)}:{start}", current))
                current = None
            elif current is not None and line.strip():
                if current and current[-1].endswith("\\"):  # a command continued
                    current[-1] = current[-1][:-1] + line.strip()
                else:
                    current.append(line.strip())
    return blocks


def shrink(args: list[str], cifar_root: Path, llm_url: str) -> list[str]:
    """The same command at a tiny size: overrides replaced or added, flags kept."""
    overrides = {a.split("=", 1)[0]: a for a in args if "=" in a and not a.startswith("-")}
    keys = set(overrides)
    experiment = overrides.get("experiment", "")
    suite = experiment.removeprefix("experiment=") in SUITE_TASKS
    trains = not suite and overrides.get("objective", "objective=train") == "objective=train"
    tiny: dict[str, str] = {}
    if "budget" not in keys or int(overrides["budget"].split("=")[1]) > 4:
        tiny["budget"] = "budget=2"
    if "seed" in keys and "range(" in overrides["seed"]:
        tiny["seed"] = "seed=range(2)"
    if "objective.dataset" in keys and "," in overrides["objective.dataset"]:  # the first
        tiny["objective.dataset"] = overrides["objective.dataset"].split(",")[0]
    if suite:  # a task or two of the suite's sweep
        tiny.update(
            {
                key: f"{key}={value}"
                for key, value in SUITE_TASKS[experiment.removeprefix("experiment=")]
            }
        )
    if trains:
        tiny["trainer.max_epochs"] = "trainer.max_epochs=1"
        if "quickstart" not in experiment and overrides.get("dataset") != "dataset=digits":
            tiny["dataset.root"] = f"dataset.root={cifar_root}"
            tiny["dataset.val_size"] = "dataset.val_size=10"
    default_tuner = "tuner=random" if suite else "tuner=llm"  # a suite sweeps its own tuners
    remote_llm = "quickstart" not in experiment and (
        overrides.get("tuner", default_tuner) == "tuner=llm" and "llm" not in keys
    )
    if "llm.api_base" in keys or remote_llm:  # a server of the reader's, or the paper's
        # default llm=openai: here llama.cpp's, on 127.0.0.1, serving the embedded model
        tiny["llm.api_base"] = f"llm.api_base={llm_url}"
        tiny["llm.model"] = "llm.model=openai/smollm2"
        if overrides.get("tuner", default_tuner) in ("tuner=llm", "tuner=llambo"):
            # the 135M model without a grammar: a random round where it has no valid answer
            # (Centaur and the hybrid fall back to their classical tuner by themselves)
            tiny["tuner.on_invalid"] = "tuner.on_invalid=random"
    kept = [a for a in args if "=" not in a or a.split("=", 1)[0] not in tiny]
    if "--help" in args or "--cfg" in args:
        return kept
    return [*kept, *tiny.values()]


def run_block(commands: list[str], folder: Path, cifar_root: Path, llm_url: str) -> list[str]:
    """Run the block's commands in order in `folder`; returns what was skipped and why."""
    skipped = []
    env = {**os.environ, "OPENAI_API_KEY": "sk-llmhpo-readme-test", "HYDRA_FULL_ERROR": "1"}
    for command in commands:
        if command.startswith(NOT_COMMANDS):
            continue
        reason = next((why for key, why in SKIPPED.items() if key in command), None)
        if reason:
            skipped.append(f"{command}: {reason}")
            continue
        if command.startswith(SHELL):  # a file made for the next commands
            subprocess.run(command, shell=True, cwd=folder, check=True)
            continue
        args = shlex.split(command, comments=True)
        scripts = Path(sys.executable).parent  # the console scripts pip installed beside it
        if args[0] == "llmhpo":
            args = [str(scripts / "llmhpo"), *shrink(args[1:], cifar_root, llm_url)]
        elif args[0] in ("llmhpo-aggregate", "llmhpo-leaderboard"):
            args = [str(scripts / args[0]), *args[1:]]
        else:
            assert args[0] == "python", command
            if "<study>" in command:  # a study made by an earlier command of the block
                study = next(folder.glob("outputs/*random*/summary.json")).parent
                args = [a.replace("outputs/<study>", str(study)) for a in args]
            if args[1:3] == ["-m", "llmhpo.run"]:
                args = [sys.executable, "-m", "llmhpo.run", *shrink(args[3:], cifar_root, llm_url)]
            else:
                args = [sys.executable, str(REPO / args[1]), *args[2:]]
        result = subprocess.run(
            args, cwd=folder, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, (
            f"{command}\n{args}\n{(result.stdout + result.stderr)[-2000:]}"
        )
        assert "Traceback" not in result.stdout + result.stderr, command
    return skipped


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    write_cifar_copy(root)
    return root


# Words of how the software was made, which a reader of it has no use for: an issue or an
# audit, a working session, a machine lent, a commit's hash, the date of a run.
HISTORY = re.compile(
    r"\b(issues?|audits?|sessions?|lent)\b|\bcommit [0-9a-f]{7,40}\b|\b20\d\d-\d\d-\d\d\b",
    re.IGNORECASE,
)


def test_no_page_speaks_of_how_the_software_was_made():
    found = [f"{page.relative_to(REPO)}:{number}: {line.strip()}"
             for page in PAGES + sorted((REPO / "src").rglob("*.py"))
             for number, line in enumerate(page.read_text().splitlines(), start=1)
             if HISTORY.search(line)]  # fmt: skip
    assert not found, "\n".join(found)


# Blocks of more than SHORT lines that are neither run here nor included from a file: why.
NOT_RUN = {
    ("README.md", "# loop, random search, Optuna TPE, remote LLMs, toy functions"):
        "installs; tests/test_wheel.py installs the wheel with an extra and runs every door",
    ("docs/index.md", "# loop, random search, Optuna TPE, remote LLMs, toy functions"):
        "the README's install lines",
    ("docs/reference.md", "src/llmhpo/"): "a picture of the package's folders, not code",
}  # fmt: skip
SHORT = 3


def code_blocks() -> list[tuple[str, int, str, list[str]]]:
    """(page, first line's number, language, lines) of every fenced block of every page."""
    blocks = []
    for page in PAGES:
        lines = page.read_text().splitlines()
        fences = [n for n, line in enumerate(lines) if line.strip().startswith("```")]
        for start, end in zip(fences[::2], fences[1::2], strict=True):
            body = [line for line in lines[start + 1 : end] if line.strip()]
            language = lines[start].strip().removeprefix("```")
            blocks.append((str(page.relative_to(REPO)), start + 1, language, body))
    return blocks


def is_excerpt(body: list[str]) -> bool:
    """Whether the block's lines are lines of one file under examples/, in the file's order
    ("..." standing for lines left out): how the README, which cannot include a file, shows
    one."""
    wanted = [line for line in body if line.strip() != "..."]
    for example in (REPO / "examples").rglob("*.py"):
        remaining = iter(example.read_text().splitlines())
        if all(any(line == have for have in remaining) for line in wanted):
            return True
    return False


def test_every_code_block_is_run_or_included_from_a_file():
    run = {where for where, _ in page_blocks()}
    loose, used = [], set()
    for page, number, language, body in code_blocks():
        reason = NOT_RUN.get((page, body[0] if body else ""))
        if reason:
            used.add((page, body[0]))
        elif not (
            f"{page}:{number}" in run
            or any("--8<--" in line for line in body)
            or len(body) <= SHORT
            or (page == "README.md" and language == "python" and is_excerpt(body))
        ):
            loose.append(f"{page}:{number} ({language or 'no language'}, {len(body)} lines)")
    assert not loose, "blocks neither run by this file nor included from a file:\n" + "\n".join(
        loose
    )
    assert used == set(NOT_RUN), f"NOT_RUN entries that match no block: {set(NOT_RUN) - used}"


def test_the_pages_have_their_commands_and_every_skip_is_used():
    commands = [c for _, block in page_blocks() for c in block]
    assert sum(c.startswith("python -m llmhpo.run") for c in commands) >= 25
    for key in SKIPPED:
        assert any(key in c for c in commands), f"SKIPPED[{key!r}] matches no command of the pages"


@pytest.mark.slow
@pytest.mark.parametrize(
    "where,commands",
    page_blocks(),
    ids=[f"{where}: {commands[0][:50]}" for where, commands in page_blocks()],
)
def test_every_command_of_the_pages_runs(where, commands, tmp_path, cifar_root, llama_server):
    if "<study>" in " ".join(commands):  # tuner.from_run needs a finished study first
        commands = [
            "python -m llmhpo.run dataset=digits tuner=random budget=4 trainer.max_epochs=1",
            *commands,
        ]
    for line in run_block(commands, tmp_path, cifar_root, llama_server):
        print(f"skipped: {line}")


def test_the_config_group_tables_are_read_from_the_config_tree():
    spec = importlib.util.spec_from_file_location("hook", REPO / "docs/hooks/config_groups.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = (REPO / "docs" / "paper.md").read_text()
    built = hook.on_page_markdown(page)
    assert "<!-- config-groups -->" in page and "config-groups" not in built
    conf = REPO / "src" / "llmhpo" / "conf"
    for group in (p for p in conf.iterdir() if p.is_dir() and p.name != "hydra"):
        assert f"**`{group.name}`**" in built
        for option in group.glob("*.yaml"):
            assert f"`{option.stem}`" in built, option
    # each option row carries the first sentence of its file's top comment
    assert "| `cpu` | The default Trainer on the CPU, in 32-bit precision. |" in built


def test_the_site_takes_its_address_and_repository_from_the_build_environment(tmp_path):
    """mkdocs.yml reads both from the environment: a site published under a subpath gets a
    sitemap of its pages, a 404 page whose links work there, and a link to its repository."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "LLMHPO_SITE_URL": "https://docs.example.org/llmhpo/",
           "LLMHPO_REPO_URL": "https://code.example.org/owner/llmhpo"}  # fmt: skip
    mkdocs = Path(sys.executable).parent / "mkdocs"
    built = subprocess.run([str(mkdocs), "build", "--strict", "-d", str(tmp_path / "site")],
                           cwd=REPO, env=env, capture_output=True, text=True)  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    site = tmp_path / "site"
    assert "https://docs.example.org/llmhpo/benchmarks/" in (site / "sitemap.xml").read_text()
    assert 'href="/llmhpo/assets/' in (site / "404.html").read_text()
    assert 'href="https://code.example.org/owner/llmhpo"' in (site / "index.html").read_text()
