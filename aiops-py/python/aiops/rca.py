"""Root-cause analysis: the runbook knowledge base."""

from aiops._aiops import KnowledgeBase

__all__ = ["KnowledgeBase"]
