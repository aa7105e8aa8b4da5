"""The config resolvers llmhpo's YAML uses: `${llmhpo.run_name:}` and `${llmhpo.bo_name:...}`.

Registered at import, not only from run.py: Hydra's joblib workers unpickle the
task function, which imports this module, and must resolve `sweep.subdir` too.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from llmhpo.store.folder import run_name_of_root
from llmhpo.tuners.bo import bo_name


def register_resolvers() -> None:
    """`${llmhpo.run_name:}` for Hydra's `run.dir` and `sweep.subdir`; `${llmhpo.bo_name:...}`."""
    if not OmegaConf.has_resolver("llmhpo.run_name"):
        OmegaConf.register_new_resolver("llmhpo.run_name", run_name_of_root)
    if not OmegaConf.has_resolver("llmhpo.bo_name"):
        OmegaConf.register_new_resolver("llmhpo.bo_name", bo_name)


register_resolvers()
