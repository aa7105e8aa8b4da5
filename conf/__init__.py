"""llmhpo's Hydra config tree, installed as the package `llmhpo.conf`.

This folder stays at the repository's top level (the design card's layout); pyproject.toml
maps it to `llmhpo.conf`, so a wheel carries it and an editable install finds it here. This
file makes it a package, which `importlib.resources` and Hydra's `pkg://llmhpo.conf` need.
"""
