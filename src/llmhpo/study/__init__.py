"""One study: the loop (`loop`: ask, validate, evaluate, log, tell), its rounds (`rounds`:
which are out for evaluation and when each settles) and its summary (`summary`)."""

from llmhpo.study.loop import StudyLoop, TrialOrderError, TunerGaveUpError

__all__ = ["StudyLoop", "TrialOrderError", "TunerGaveUpError"]
