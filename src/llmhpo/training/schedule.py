"""The reference's learning-rate schedule, per optimisation step.

Linear warm-up from 0 to the peak over the first `epochs // 5` epochs, then
linear decay to 0 at the last step. With no warm-up (fewer than 5 epochs) the
peak is at step 0. Robust to a total of one step (Lightning's fast_dev_run).
"""

from __future__ import annotations

from collections.abc import Callable


def warmup_linear(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """Factor of the peak learning rate at each step, for torch's LambdaLR."""
    total_steps = max(int(total_steps), 1)
    warmup_steps = min(max(int(warmup_steps), 0), total_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return step / warmup_steps
        if total_steps == warmup_steps:
            return 0.0
        return max(0.0, (total_steps - step) / (total_steps - warmup_steps))

    return factor
