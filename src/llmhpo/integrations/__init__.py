"""Doors into llmhpo's loop for other tools' users (Optuna: `integrations.optuna.LLMSampler`)."""
