"""ProRank reranking for Haystack and LlamaIndex: one scoring engine, thin adapters, training and benchmarks.

Heavy imports (torch, transformers, frameworks) happen on first use, so ``import prorank_integrations`` is fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["ProRankScorer", "shared_scorer", "__version__"]

if TYPE_CHECKING:
    from prorank_integrations.engine.scorer import ProRankScorer, shared_scorer


def __getattr__(name: str) -> Any:
    if name in ("ProRankScorer", "shared_scorer"):
        from prorank_integrations.engine import scorer

        return getattr(scorer, name)
    raise AttributeError(name)
