"""llmhpo's Hydra sweeper: `python my_app.py -m hydra/sweeper=llmhpo ...` tunes any Hydra app
with an LLM, random search, Optuna or SMAC (see llmhpo.integrations.hydra_sweeper)."""
