"""Haystack's integration namespace: ``from haystack_integrations.components.rankers.prorank import ProRankRanker``."""

from prorank_integrations.haystack import ProRankRanker

__all__ = ["ProRankRanker"]
