"""Rerankers named by a small spec language, each resolved to an object with ``score(query, texts)``.

    none                               keep the first-stage order
    bi-encoder:MODEL                   cosine similarity, sentence-transformers (catalogue name, path or hub id)
    cross-encoder:MODEL                sentence-transformers CrossEncoder
    prorank:MODEL[+adapter=PATH][+max_length=N][+batch_size=N][+fast=MODE,...][+dtype=D]   the project's engine
    st-causal:MODEL[+max_length=N][+batch_size=N]   the same score computed by sentence-transformers' CrossEncoder
                                       as a causal-LM reranker (the peer of the speed benchmark)

A spec may carry a label: ``zero-shot-0.5b=prorank:qwen2.5-coder-0.5b-instruct``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from prorank_integrations.engine import assets, models

KINDS = ("none", "bi-encoder", "cross-encoder", "prorank", "st-causal")
OPTIONS = ("adapter", "max_length", "batch_size", "fast", "dtype")


class Reranker(Protocol):
    def score(self, query: str, texts: Sequence[str]) -> np.ndarray: ...


def precision(reranker: Reranker) -> str | None:
    """The dtype a language-model reranker computes in (``auto`` resolves per machine), recorded with each result."""
    engine = getattr(reranker, "engine", None)
    return str(engine.dtype).removeprefix("torch.") if engine is not None else None


@dataclass(frozen=True)
class RerankerSpec:
    label: str
    kind: str
    model: str
    options: dict[str, str]
    text: str  # the spec as written, without its label

    @classmethod
    def parse(cls, text: str) -> RerankerSpec:
        label, sep, spec = text.partition("=")
        if not sep or ":" in label:  # "prorank:M+adapter=P" has no label; "stage1+2=prorank:M" has one
            label, spec = text, text
        kind, _, rest = spec.partition(":")
        if kind not in KINDS:
            raise ValueError(f"unknown reranker kind {kind!r} in {text!r}; use {', '.join(KINDS)}")
        # "+" starts an option only before a known key, so paths may hold "+" (e.g. adapters/stage1+2)
        parts = re.split(rf"\+(?=(?:{'|'.join(OPTIONS)})=)", rest) if rest else [""]
        model, options = parts[0], dict(p.split("=", 1) for p in parts[1:])
        if re.search(r"\+\w*(=|$)", model) and not Path(model).exists():
            raise ValueError(f"unknown reranker option in {text!r}; options: {', '.join(OPTIONS)}")
        if kind != "none" and not model:
            raise ValueError(f"reranker {text!r} needs a model: {kind}:MODEL")
        return cls(label, kind, model, options, spec)

    @property
    def rows_file(self) -> str:
        """The file name of this reranker's cached rows: the label, with characters unsafe in a file name (a path's
        "/" in an unlabelled spec, ":" on Windows) replaced by "_"."""
        return re.sub(r"[^\w.+=,-]", "_", self.label) + ".jsonl"

    def settings(self) -> str:
        """The spec, plus a digest of the adapter weights it names (and of its ``prorank.json``, the prompt layout,
        where it has one): a retrained adapter keeps its path or catalogue name, and results cached under the old
        weights must not pass for the new ones."""
        digest = adapter_digest(self.model, self.options.get("adapter")) if self.model else None
        return f"{self.text} | adapter weights sha256:{digest}" if digest else self.text


def adapter_digest(model: str, adapter: str | None) -> str | None:
    """A digest of the adapter weights (and ``prorank.json``) that a model and adapter setting resolve to, if any."""
    folder = models.adapter_folder(model, adapter)
    files = sorted(folder.glob("adapter_model.*")) if folder is not None and folder.is_dir() else []
    if not files:
        return None
    files += [p for p in [folder / models.SETTINGS_FILE] if p.is_file()]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]


def local_model_path(name: str) -> str:
    """A catalogue name becomes its cached folder; anything else is passed on unchanged."""
    if name in assets.CATALOGUE:
        if not assets.is_fetched(name):
            raise FileNotFoundError(f"{name} is not fetched; run: prorank models fetch {name}")
        return str(assets.model_dir(name))
    return name


def load_sentence_transformer(name: str) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(local_model_path(name), device="cpu")


class FirstStageOrder:
    """``none``: scores that keep the candidates in first-stage order."""

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        return -np.arange(len(texts), dtype=np.float32)


class BiEncoder:
    def __init__(self, model: str) -> None:
        self.encoder = load_sentence_transformer(model)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        q = self.encoder.encode([query], normalize_embeddings=True, convert_to_numpy=True)
        d = self.encoder.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return (d @ q[0]).astype(np.float32)


class CrossEncoderReranker:
    def __init__(self, model: str, max_length: int = 512) -> None:
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(local_model_path(model), device="cpu", max_length=max_length)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.model.predict([(query, t) for t in texts], convert_to_numpy=True), dtype=np.float32)


class ProRankReranker:
    """The project's engine; raw scores."""

    def __init__(self, model: str, adapter: str | None = None, max_length: int = 512, batch_size: int = 16,
                 fast: str | None = None, dtype: str = "auto") -> None:
        from prorank_integrations.engine.scorer import ProRankScorer

        self.engine = ProRankScorer(model, adapter=adapter, max_length=max_length, batch_size=batch_size, fast=fast,
                                    dtype=dtype)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        return self.engine.score(query, list(texts))


class SentenceTransformersCausal:
    """``st-causal``: the ProRank score computed by sentence-transformers (see
    :class:`~prorank_integrations.bench.peers.SentenceTransformersPeer`), on the engine's token ids."""

    def __init__(self, model: str, max_length: int = 512, batch_size: int = 16) -> None:
        from prorank_integrations.bench.peers import SentenceTransformersPeer
        from prorank_integrations.engine.scorer import ProRankScorer

        path = local_model_path(model)
        self.engine = ProRankScorer(path, max_length=max_length, cache_size=0)  # the prompt and its token ids
        self.peer = SentenceTransformersPeer(path, self.engine, batch_size)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        return self.peer.score(query, list(texts)) if len(texts) else np.empty(0, dtype=np.float32)


def engine_options(spec: RerankerSpec) -> dict[str, Any]:
    """A ``prorank:`` spec's engine settings, as the engine and both framework components take them."""
    opts = spec.options
    return {"adapter": opts.get("adapter"), "max_length": int(opts.get("max_length", 512)),
            "batch_size": int(opts.get("batch_size", 16)), "fast": opts.get("fast"), "dtype": opts.get("dtype", "auto")}


def build_reranker(spec: RerankerSpec) -> Reranker:
    opts = spec.options
    if spec.kind == "none":
        return FirstStageOrder()
    if spec.kind == "bi-encoder":
        return BiEncoder(spec.model)
    if spec.kind == "cross-encoder":
        return CrossEncoderReranker(spec.model, int(opts.get("max_length", 512)))
    if spec.kind == "st-causal":
        return SentenceTransformersCausal(spec.model, int(opts.get("max_length", 512)), int(opts.get("batch_size", 16)))
    return ProRankReranker(spec.model, **engine_options(spec))
