"""ProRankRerank: a LlamaIndex node postprocessor over the shared ProRank engine (it holds no scoring logic)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from prorank_integrations.engine.models import DEFAULT_MODEL
from prorank_integrations.engine.scorer import ProRankScorer, auto_device, best_first, shared_scorer

dispatcher = get_dispatcher(__name__)
logger = logging.getLogger(__name__)


class ProRankRerank(BaseNodePostprocessor):
    """Reranks retrieved nodes with a ProRank model and keeps the best ``top_n``.

    The text scored is ``node.get_content(metadata_mode=MetadataMode.EMBED)``. Unlike ``SentenceTransformerRerank``
    (which writes scores and metadata into the caller's nodes), the returned ``NodeWithScore`` objects are new and
    the caller's nodes are left as they were; with ``keep_retrieval_score`` the returned node is a copy whose
    metadata holds the first-stage score as ``retrieval_score``. Nodes without text are scored as empty text and
    kept (a warning names them). The model loads on first use, shared with every Haystack ranker or postprocessor
    with the same settings.
    """

    model: str = Field(default=DEFAULT_MODEL, description="Local path, catalogue name or hub id.")
    adapter: str | None = Field(default=None, description="Optional peft LoRA adapter folder.")
    top_n: int = Field(default=5, description="Number of nodes returned, best first.", gt=0)
    device: str = Field(default_factory=auto_device, description="cpu, cuda, cuda:N or mps.")
    keep_retrieval_score: bool = Field(default=False, description="Keep the first-stage score in metadata.")
    scale_score: bool = Field(default=True, description="Relevance in [0, 1] (sigmoid) instead of the raw logit.")
    instruction: str | None = Field(default=None, description="Optional task instruction in the ProRank prompt.")
    batch_size: int = Field(default=16, description="Pairs per forward pass.", gt=0)
    max_length: int = Field(default=1024, description="Tokens per (query, node) prompt; the node text is cut.")
    dtype: str = Field(default="auto", description="auto, bf16, fp16 or fp32.")
    fast: str | None = Field(default=None, description="Engine speed modes: 'prefix' (same scores), 'int8' (CPU).")
    prompt_layout: str | None = Field(default=None, description="None: the layout the model records; else "
                                      "'published' or 'query-first'.")
    _scorer: ProRankScorer | None = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "ProRankRerank"

    @property
    def scorer(self) -> ProRankScorer:
        """The shared engine, loaded on first use."""
        if self._scorer is None:
            self._scorer = shared_scorer(self.model, adapter=self.adapter, device=self.device, dtype=self.dtype,
                                         max_length=self.max_length, fast=self.fast,
                                         prompt_layout=self.prompt_layout)
        return self._scorer

    def _texts(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None) -> list[str]:
        if query_bundle is None:
            raise ValueError("Missing query bundle: pass query_str=... or query_bundle=... to postprocess_nodes.")
        texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        empty = [n.node.node_id for n, t in zip(nodes, texts) if not t]
        if empty:
            logger.warning("ProRankRerank: %d node(s) without text are scored as empty text: %s", len(empty), empty)
        return texts

    def _rerank(self, nodes: list[NodeWithScore], raw: Any) -> list[NodeWithScore]:
        scores = self.scorer.relevance(raw) if self.scale_score else raw
        out = []
        for i in best_first(raw)[: self.top_n]:
            node = nodes[i].node
            if self.keep_retrieval_score:
                node = node.model_copy(update={"metadata": {**node.metadata, "retrieval_score": nodes[i].score}})
            out.append(NodeWithScore(node=node, score=float(scores[i])))
        return out

    def _payload(self, nodes: list[NodeWithScore], query_bundle: QueryBundle) -> dict[EventPayload, Any]:
        return {EventPayload.NODES: nodes, EventPayload.MODEL_NAME: self.model,
                EventPayload.QUERY_STR: query_bundle.query_str, EventPayload.TOP_K: self.top_n}

    @contextmanager
    def _reranking(self, nodes: list[NodeWithScore], query_bundle: QueryBundle) -> Iterator[list[NodeWithScore]]:
        """Instrumentation events and the RERANKING callback event around one reranking; yields the result list."""
        dispatcher.event(ReRankStartEvent(query=query_bundle, nodes=nodes, top_n=self.top_n, model_name=self.model))
        with self.callback_manager.event(CBEventType.RERANKING, payload=self._payload(nodes, query_bundle)) as event:
            result: list[NodeWithScore] = []
            yield result
            event.on_end(payload={EventPayload.NODES: result})
        dispatcher.event(ReRankEndEvent(nodes=result))

    def _postprocess_nodes(self, nodes: list[NodeWithScore],
                           query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        texts = self._texts(nodes, query_bundle)
        if not nodes:
            return []
        with self._reranking(nodes, query_bundle) as result:
            raw = self.scorer.score(query_bundle.query_str, texts, instruction=self.instruction,
                                    batch_size=self.batch_size)
            result.extend(self._rerank(nodes, raw))
        return result

    async def _apostprocess_nodes(self, nodes: list[NodeWithScore],
                                  query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        texts = self._texts(nodes, query_bundle)
        if not nodes:
            return []
        with self._reranking(nodes, query_bundle) as result:
            scorer = await asyncio.to_thread(lambda: self.scorer)
            raw = await asyncio.to_thread(scorer.score, query_bundle.query_str, texts, instruction=self.instruction,
                                          batch_size=self.batch_size)
            result.extend(self._rerank(nodes, raw))
        return result
