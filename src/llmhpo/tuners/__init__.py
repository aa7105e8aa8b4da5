"""Tuners: everything that proposes configurations, behind one ask/tell interface."""

from llmhpo.tuners.base import Proposal, Tuner

__all__ = ["Proposal", "Tuner"]
