"""The RAG benchmark's Haystack pipeline: InMemoryBM25Retriever -> ranker -> RAG prompt -> chat generator."""

from __future__ import annotations

import numpy as np
from haystack import Document, Pipeline, component
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack.dataclasses import ChatMessage
from haystack.document_stores.in_memory import InMemoryDocumentStore

from prorank_integrations.bench.data import BeirDataset
from prorank_integrations.bench.generation import Generator, rag_messages
from prorank_integrations.bench.rerankers import RerankerSpec, build_reranker, engine_options
from prorank_integrations.haystack import ProRankRanker


@component
class SpecRanker:
    """A benchmark-only ranker for the non-ProRank specs (first-stage order, bi-encoder, cross-encoder)."""

    def __init__(self, spec: RerankerSpec, top_k: int) -> None:
        self.reranker, self.top_k = build_reranker(spec), top_k

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document]) -> dict[str, list[Document]]:
        scores = np.asarray(self.reranker.score(query, [d.content or "" for d in documents]))
        order = np.argsort(-scores, kind="stable")[: self.top_k]
        return {"documents": [Document(id=documents[i].id, content=documents[i].content, score=float(scores[i]))
                              for i in order]}


@component
class RagPrompt:
    """The benchmark's one RAG prompt (``generation.rag_messages``) as chat messages."""

    @component.output_types(messages=list[ChatMessage])
    def run(self, query: str, documents: list[Document]) -> dict[str, list[ChatMessage]]:
        system, user = rag_messages(query, [d.content or "" for d in documents])
        return {"messages": [ChatMessage.from_system(system["content"]), ChatMessage.from_user(user["content"])]}


@component
class GeneratorComponent:
    """Haystack 3 ships no local transformers generator: this wraps the benchmark's generator."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator

    @component.output_types(replies=list[ChatMessage])
    def run(self, messages: list[ChatMessage]) -> dict[str, list[ChatMessage]]:
        plain = [{"role": m.role.value, "content": m.text or ""} for m in messages]
        return {"replies": [ChatMessage.from_assistant(self.generator.generate(plain))]}


class HaystackRag:
    """One real Haystack pipeline per reranker; ProRank specs use ``ProRankRanker`` itself."""

    def __init__(self, dataset: BeirDataset, spec: RerankerSpec, generator: Generator, depth: int, k: int) -> None:
        store = InMemoryDocumentStore()
        store.write_documents([Document(id=d, content=dataset.doc_text(d)) for d in dataset.corpus])
        if spec.kind == "prorank":
            ranker = ProRankRanker(model=spec.model, top_k=k, scale_score=False, **engine_options(spec))
        else:
            ranker = SpecRanker(spec, k)
        self.pipe = Pipeline()
        self.pipe.add_component("retriever", InMemoryBM25Retriever(document_store=store, top_k=depth))
        self.pipe.add_component("ranker", ranker)
        self.pipe.add_component("prompt", RagPrompt())
        self.pipe.add_component("llm", GeneratorComponent(generator))
        self.pipe.connect("retriever.documents", "ranker.documents")
        self.pipe.connect("ranker.documents", "prompt.documents")
        self.pipe.connect("prompt.messages", "llm.messages")

    def answer(self, question: str) -> tuple[str, list[str], list[str]]:
        res = self.pipe.run({"retriever": {"query": question}, "ranker": {"query": question},
                             "prompt": {"query": question}}, include_outputs_from={"ranker"})
        docs = res["ranker"]["documents"]
        return res["llm"]["replies"][0].text or "", [d.id for d in docs], [d.content or "" for d in docs]
