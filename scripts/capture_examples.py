"""Run the examples the docs show and keep what each printed, for the pages to include.

    python scripts/capture_examples.py [NAME ...]     # default: every example in EXAMPLES

Each example runs as a reader runs it, its study in a fresh temporary folder, and what it
prints goes to docs/snippets/NAME.txt, which the page includes under the example's source
(pymdownx.snippets): the output shown is the one the file printed, never typed by hand.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# name: the script under examples/ and its arguments ({folder}: where its study goes)
EXAMPLES = {
    "pytorch_asha": ("pytorch_asha.py", "{folder}"),
    "tune_sklearn_api": ("tune_sklearn_api.py", "{folder}"),
    "tune_sklearn_optuna": ("tune_sklearn_optuna.py",),
    "hydra_app": (
        "hydra_app/train.py",
        "-m",
        "hydra.sweep.dir={folder}",
    ),
}
SNIPPETS = ROOT / "docs" / "snippets"


def capture(name: str) -> Path:
    script, *args = EXAMPLES[name]
    with tempfile.TemporaryDirectory() as folder:
        study = str(Path(folder) / "study")
        result = subprocess.run(
            [sys.executable, str(ROOT / "examples" / script),
             *(arg.replace("{folder}", study) for arg in args)],
            cwd=folder, capture_output=True, text=True, check=False,
        )  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"examples/{script} failed:\n{result.stderr[-3000:]}")
    target = SNIPPETS / f"{name}.txt"
    target.write_text(result.stdout.replace(study, "<folder>"))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=list(EXAMPLES), help=", ".join(EXAMPLES))
    names = parser.parse_args().names
    if unknown := sorted(set(names) - set(EXAMPLES)):
        parser.error(f"no example {unknown[0]!r} is shown in the docs; they are {list(EXAMPLES)}")
    for name in names:
        print(f"wrote {capture(name).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
