"""Run folders of many benchmarks -> one leaderboard: `llmhpo-leaderboard` from a checkout.

    python scripts/leaderboard.py outputs/multirun --out results/leaderboard

It lives in the package (llmhpo.results.leaderboard_command), so that an installed llmhpo has
it as the `llmhpo-leaderboard` command; `--help` lists every option and output.
"""

import sys

from llmhpo.results.leaderboard_command import main

if __name__ == "__main__":
    sys.exit(main())
