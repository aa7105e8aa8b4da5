"""`python -m llmhpo.run`: compose the config, build the study, run or resume it.

Thin on purpose: everything it calls is importable and testable without Hydra's
command line.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from llmhpo.builder import build_study
from llmhpo.run_folder import claim, job_config

log = logging.getLogger("llmhpo")


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Returns the best value, so Hydra sweepers can optimise over studies too."""
    folder = Path(HydraConfig.get().runtime.output_dir)
    claim(folder, job_config(cfg))
    summary = build_study(cfg, folder).run()
    log.info(
        "Study in %s: %d/%d trials %s, best value %s with %s",
        folder,
        summary["trials"],
        summary["budget"],
        summary["status_counts"],
        summary["best_value"],
        summary["best_config"],
    )
    return summary["best_value"]


def fix_hash_seed() -> None:
    """Re-execute once with PYTHONHASHSEED=0 when it is unset.

    SMAC's local search orders candidate configurations through a set, whose order
    follows Python's per-process string hashing: without a fixed hash seed the same
    seed gives other proposals in every process, and a resumed study would diverge.
    """
    if os.environ.get("PYTHONHASHSEED") is None:
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, "-m", "llmhpo.run", *sys.argv[1:]])


if __name__ == "__main__":
    fix_hash_seed()
    main()
