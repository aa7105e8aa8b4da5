"""llmhpo as a user installs it: a wheel built from this checkout, installed into a fresh
virtual environment outside it.

Installing the dependencies from the package index would take minutes per test; these venvs
reuse the ones already installed in the test's own environment instead, without copying
them: `venv_with_everything` sees the whole environment (every extra), `venv_with_core` only
the distributions the core requires (the closure of llmhpo's requirements without extras), so
that what an extra brings (torch, llama_cpp, smac, ...) is really absent there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "src")  # what the wheel is built from


def build_wheel(folder: Path) -> Path:
    """The wheel of a copy of the checkout's sources (so the build writes nothing into the
    repository), built without network by the setuptools of this environment."""
    source = folder / "source"
    source.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(path, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    dist = folder / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-build-isolation", "--no-deps",
         "--wheel-dir", str(dist), str(source)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = dist.glob("llmhpo-*.whl")
    return wheel


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


class Venv:
    """A fresh virtual environment: its python and console scripts, and a clean environment
    for its commands (nothing of the checkout on PYTHONPATH)."""

    def __init__(self, root: Path):
        self.root = root
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
        self.python = root / "bin" / "python"
        self.site = Path(
            subprocess.run(
                [str(self.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                check=True, capture_output=True, text=True,
            ).stdout.strip()
        )  # fmt: skip

    def install(self, wheel: Path) -> None:
        """The wheel alone (its dependencies come from `see`), by this environment's pip."""
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(self.python), "install", "--quiet",
             "--no-deps", str(wheel)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip

    def see(self, folder: str) -> None:
        """Put `folder` on this venv's path after its own site-packages (a .pth line)."""
        with (self.site / "_llmhpo_test_deps.pth").open("a") as pth:
            pth.write(folder + "\n")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return {**env, "PATH": f"{self.root / 'bin'}{os.pathsep}{env.get('PATH', '')}"}

    def run(self, args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
        """`args` in `cwd`, the first one a console script of this venv or `python`;
        stdout and stderr apart."""
        program = str(self.python) if args[0] == "python" else str(self.root / "bin" / args[0])
        return subprocess.run(
            [program, *args[1:]], cwd=cwd, env=self.env(), capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip


def venv_with_everything(root: Path, wheel: Path) -> Venv:
    """The wheel installed; its dependencies and every extra's from this environment."""
    venv = Venv(root)
    venv.install(wheel)
    venv.see(sysconfig.get_path("purelib"))
    return venv


def venv_with_core(root: Path, wheel: Path) -> Venv:
    """The wheel installed; only the core's dependencies, linked file by file from this
    environment (with their metadata, so importlib.metadata and pip see them installed)."""
    venv = Venv(root)
    venv.install(wheel)
    for dist in core_closure(wheel):
        for file in dist.files or []:
            if file.parts[0] == ".." or file.suffix == ".pyc":
                continue  # console scripts outside site-packages; bytecode is remade
            source, target = Path(dist.locate_file(file)), venv.site / file
            if source.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(source)
    return venv


def core_closure(wheel: Path) -> list[metadata.Distribution]:
    """The installed distributions llmhpo's core requires, directly or not (no extras)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        wanted = archive.read(name).decode()
    pending = [
        (Requirement(line.split(":", 1)[1].strip()), "")
        for line in wanted.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, str]] = set()  # (distribution, extra) whose requirements are queued
    while pending:
        requirement, parent_extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": parent_extra}):
            continue
        key = canonicalize_name(requirement.name)
        dist = found.setdefault(key, metadata.distribution(requirement.name))
        for extra in ["", *requirement.extras]:
            if (key, extra) not in seen:
                seen.add((key, extra))
                pending.extend((Requirement(line), extra) for line in dist.requires or [])
    return list(found.values())
