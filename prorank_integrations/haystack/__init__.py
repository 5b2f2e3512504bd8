"""Haystack adapter: ``ProRankRanker``.

Importing this module adds its own module (and nothing else) to Haystack 3's deserialization allowlist, so a
pipeline YAML holding a ``ProRankRanker`` loads with ``Pipeline.loads`` once the package is imported. A process
that has not imported it passes ``allowed_modules=["prorank_integrations.haystack"]`` to ``Pipeline.loads``.
"""

from prorank_integrations.haystack.ranker import ProRankRanker

try:  # haystack >= 3: trusted-module allowlist for Pipeline.loads
    from haystack.core.serialization import allow_deserialization_module
except ImportError:  # haystack 2.x has no allowlist
    pass
else:
    allow_deserialization_module("prorank_integrations.haystack")

__all__ = ["ProRankRanker"]
