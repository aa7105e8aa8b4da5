"""From run folders to the paper's tables and plots (`llmhpo-aggregate`, `scripts/aggregate.py`)."""
