"""A small Hydra app of its own (not llmhpo's run.py) for the sweeper's tests: it records
what each job received and returns a quadratic of its parameters."""

import json
import math
import os
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf


@hydra.main(version_base="1.3", config_path=".", config_name="config")
def main(cfg: DictConfig) -> object:
    started = time.time()
    params = OmegaConf.to_container(cfg, resolve=True)
    time.sleep(cfg.sleep)
    if cfg.fail_above is not None and cfg.x > cfg.fail_above:
        raise ValueError(f"x={cfg.x} is above {cfg.fail_above}")
    value = (cfg.x - 0.3) ** 2 + 0.01 * abs(cfg.n - 4) + (0.0 if cfg.act == "tanh" else 0.05)
    record = {
        "job": HydraConfig.get().job.num,
        "pid": os.getpid(),
        "started": started,
        "ended": time.time(),
        "params": params,
        "types": {key: type(params[key]).__name__ for key in params},
        "value": value,
    }
    calls = Path(HydraConfig.get().sweep.dir) / "calls.jsonl"
    with calls.open("a") as out:  # one short line per write: appends do not interleave
        out.write(json.dumps(record) + "\n")
    if cfg.returns == "dict":
        return {"loss": value, "other": -1.0}
    if cfg.returns == "none":
        return None
    return math.nan if cfg.returns == "non_finite" else value


if __name__ == "__main__":
    main()
