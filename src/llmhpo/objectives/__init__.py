"""Objectives: what one trial evaluates. Only this package knows how."""

from llmhpo.objectives.base import Evaluation, Objective, TaskInfo

__all__ = ["Evaluation", "Objective", "TaskInfo"]
