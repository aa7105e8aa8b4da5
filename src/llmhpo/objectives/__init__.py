"""Objectives: what one trial evaluates. Only this package knows how."""

from llmhpo.objectives.base import Evaluation, Objective

__all__ = ["Evaluation", "Objective"]
