"""Everything the LLM tuner needs: clients (local llama.cpp, litellm), prompts, a cache."""
