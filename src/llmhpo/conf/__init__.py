"""llmhpo's Hydra config tree, installed as the package `llmhpo.conf`.

One folder per config group (objective, model, dataset, trainer, search_space, tuner, pruner,
llm, prompt, experiment) and `config.yaml`, the primary config. A package, so that a wheel
carries the YAML as data, and `importlib.resources` and Hydra's `pkg://llmhpo.conf` find it
in a checkout, an editable install and a wheel alike.
"""

CONFIG_MODULE = __name__  # "llmhpo.conf": how Hydra (pkg://) and importlib.resources find it
