"""First-stage retrieval over a BEIR corpus: BM25 (bm25s) and dense (sentence-transformers bi-encoder)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from prorank_integrations.bench.data import BeirDataset


class BM25Retriever:
    """bm25s over the corpus paragraphs, English stop words and stemming-free tokens (bm25s defaults)."""

    def __init__(self, dataset: BeirDataset) -> None:
        import bm25s

        self.doc_ids = list(dataset.corpus)
        self._bm25s = bm25s
        self.index = bm25s.BM25()
        tokens = bm25s.tokenize([dataset.doc_text(d) for d in self.doc_ids], stopwords="en", show_progress=False)
        self.index.index(tokens, show_progress=False)

    def search(self, queries: Sequence[str], k: int = 100) -> list[list[tuple[str, float]]]:
        """Top ``k`` (doc id, score) per query, best first."""
        k = min(k, len(self.doc_ids))
        tokens = self._bm25s.tokenize(list(queries), stopwords="en", show_progress=False)
        results, scores = self.index.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [[(self.doc_ids[int(i)], float(s)) for i, s in zip(row, srow)] for row, srow in zip(results, scores)]


class DenseRetriever:
    """Cosine similarity with a sentence-transformers bi-encoder (all-MiniLM-L6-v2 offline by default)."""

    def __init__(self, dataset: BeirDataset, model: str = "all-minilm-l6-v2", batch_size: int = 64) -> None:
        from prorank_integrations.bench.rerankers import load_sentence_transformer

        self.doc_ids = list(dataset.corpus)
        self.encoder = load_sentence_transformer(model)
        self.matrix = self.encoder.encode([dataset.doc_text(d) for d in self.doc_ids], batch_size=batch_size,
                                          normalize_embeddings=True, convert_to_numpy=True)

    def search(self, queries: Sequence[str], k: int = 100) -> list[list[tuple[str, float]]]:
        q = self.encoder.encode(list(queries), normalize_embeddings=True, convert_to_numpy=True)
        sims = q @ self.matrix.T
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return [[(self.doc_ids[j], float(sims[r, j])) for j in row] for r, row in enumerate(top)]


def first_stage(name: str, dataset: BeirDataset) -> BM25Retriever | DenseRetriever:
    """``bm25`` or ``dense[:MODEL]``."""
    kind, _, arg = name.partition(":")
    if kind == "bm25":
        return BM25Retriever(dataset)
    if kind == "dense":
        return DenseRetriever(dataset, arg or "all-minilm-l6-v2")
    raise ValueError(f"unknown first stage {name!r}; use 'bm25' or 'dense[:MODEL]'")
