"""`tuner=llm`, the paper's method, and its text protocol with the LLM.

- `tuner`: LLMTuner, which asks the LLM for each configuration and decides what a rejected
  answer or a round without one becomes;
- `prompts`: the paper's prompt formats, built from the trial records;
- `answers`: reading a configuration out of an answer, and the JSON schema that constrains it.

How a request reaches a provider (local llama.cpp, litellm, the replay cache, keys) is
`llmhpo.llm`'s. LLMTuner is named here too, as `llmhpo.tuners.llm.LLMTuner`: the `_target_`
that conf/tuner/llm.yaml gives and that every recorded study holds.
"""

from llmhpo.tuners.llm.tuner import LLMTuner

__all__ = ["LLMTuner"]
