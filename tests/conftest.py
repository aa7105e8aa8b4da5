"""Shared fixtures: the real CLI in a temporary folder (helpers live in tests/helpers/)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# Under pytest-xdist (`make test`: one worker per core) each worker and the processes it starts
# compute on one thread: torch, scikit-learn's BLAS and OpenMP would otherwise each take every
# core, and two workers oversubscribing two cores made the suite about 10% slower. Set before
# anything imports torch or numpy.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

from llmhpo.llm.local import embedded_model_path
from tests.helpers.runs import run_cli
from tests.helpers.servers import start_llama_server


@pytest.fixture
def cli(tmp_path: Path):
    def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return run_cli(list(args), tmp_path, timeout)

    return _run


@pytest.fixture
def cli_split(tmp_path: Path):
    """`cli`, with stdout and stderr apart."""

    def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return run_cli(list(args), tmp_path, timeout, split=True)

    return _run


@pytest.fixture(scope="session")
def llama_server():
    """The embedded model behind llama.cpp's OpenAI-compatible server on 127.0.0.1: its URL."""
    process, url = start_llama_server(embedded_model_path())
    yield url
    process.terminate()
    process.wait(timeout=10)
