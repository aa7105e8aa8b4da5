"""From run folders to the paper's tables and plots (`scripts/aggregate.py`)."""
