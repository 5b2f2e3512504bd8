"""The RAG benchmark's LlamaIndex query engine: BM25Retriever -> postprocessor -> response synthesis."""

from __future__ import annotations

from typing import Any

import numpy as np
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse, LLMMetadata
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.prompts import ChatPromptTemplate
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.retrievers.bm25 import BM25Retriever

from prorank_integrations.bench.data import BeirDataset
from prorank_integrations.bench.generation import RAG_SYSTEM, RAG_USER, Generator
from prorank_integrations.bench.rerankers import RerankerSpec, build_reranker, engine_options
from prorank_integrations.llama_index import ProRankRerank

# The benchmark's RAG prompt in LlamaIndex's variable names; the synthesizer fills {context_str} itself.
TEMPLATE = ChatPromptTemplate.from_messages(
    [("system", RAG_SYSTEM),
     ("user", RAG_USER.replace("{context}", "{context_str}").replace("{question}", "{query_str}"))]
)


class GeneratorLLM(CustomLLM):
    """The benchmark's generator as a LlamaIndex chat LLM."""

    _generator: Any = PrivateAttr()

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self._generator = generator

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=True, model_name=self._generator.name, num_output=32, context_window=4096)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._generator.generate([{"role": "user", "content": prompt}]))

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
        yield self.complete(prompt)

    def chat(self, messages: list[ChatMessage], **kwargs: Any) -> ChatResponse:
        plain = [{"role": m.role.value, "content": m.content or ""} for m in messages]
        return ChatResponse(message=ChatMessage(role="assistant", content=self._generator.generate(plain)))


class SpecPostprocessor(BaseNodePostprocessor):
    """A benchmark-only postprocessor for the non-ProRank specs."""

    top_n: int = 3
    _reranker: Any = PrivateAttr()

    def __init__(self, spec: RerankerSpec, top_n: int) -> None:
        super().__init__(top_n=top_n)
        self._reranker = build_reranker(spec)

    def _postprocess_nodes(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None):
        scores = np.asarray(self._reranker.score(query_bundle.query_str, [n.node.get_content() for n in nodes]))
        order = np.argsort(-scores, kind="stable")[: self.top_n]
        return [NodeWithScore(node=nodes[i].node, score=float(scores[i])) for i in order]


class LlamaIndexRag:
    """One real LlamaIndex query engine per reranker; ProRank specs use ``ProRankRerank`` itself."""

    def __init__(self, dataset: BeirDataset, spec: RerankerSpec, generator: Generator, depth: int, k: int) -> None:
        if spec.kind == "prorank":
            post = ProRankRerank(model=spec.model, top_n=k, scale_score=False, **engine_options(spec))
        else:
            post = SpecPostprocessor(spec, k)
        nodes = [TextNode(id_=d, text=dataset.doc_text(d)) for d in dataset.corpus]
        self.engine = RetrieverQueryEngine.from_args(
            BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=depth), llm=GeneratorLLM(generator),
            node_postprocessors=[post], text_qa_template=TEMPLATE, response_mode="compact")

    def answer(self, question: str) -> tuple[str, list[str], list[str]]:
        response = self.engine.query(question)
        nodes = response.source_nodes
        return str(response.response or ""), [n.node.node_id for n in nodes], [n.node.get_content() for n in nodes]
