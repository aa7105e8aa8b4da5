"""`python -m llmhpo.selfcheck`: does the embedded LLM run on this machine?

llama-cpp-python is compiled at install time; a build for instructions the machine does
not allow dies with "Illegal instruction" at the first token, killing whatever process
loaded it. `make install` runs this check in its own process after installing, and
rebuilds llama.cpp when it fails, so a broken build never reaches a study or the tests.
"""

from __future__ import annotations

import sys

from llmhpo.llm.base import LLMRequest
from llmhpo.llm.local import LocalLlamaClient


def main() -> int:
    client = LocalLlamaClient(max_tokens=4)
    response = client.complete(LLMRequest([{"role": "user", "content": "Say OK."}]))
    print(f"llmhpo: the embedded model ({client.model}) answers: {response.text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
