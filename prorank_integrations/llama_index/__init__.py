"""LlamaIndex adapter: ``ProRankRerank``, a node postprocessor."""

from prorank_integrations.llama_index.postprocessor import ProRankRerank

__all__ = ["ProRankRerank"]
