"""Run and multirun folders -> the paper's tables and plots: `llmhpo-aggregate` from a checkout.

    python scripts/aggregate.py outputs/ --out results/

The aggregation lives in the package (llmhpo.results.aggregate), so that an installed llmhpo
has it as the `llmhpo-aggregate` command; `--help` lists every option and output.
"""

import sys

from llmhpo.results.aggregate import main

if __name__ == "__main__":
    sys.exit(main())
