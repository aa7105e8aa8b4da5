"""llmhpo: hyperparameter optimisation with an LLM in the loop (Zhang et al., arXiv 2312.04528)."""

__version__ = "0.1.0"
