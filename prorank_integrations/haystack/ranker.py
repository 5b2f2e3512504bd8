"""ProRankRanker: a Haystack ranker component over the shared ProRank engine (it holds no scoring logic)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.utils import ComponentDevice, Secret, deserialize_secrets_inplace
from haystack.utils.misc import _deduplicate_documents

from prorank_integrations.engine.models import DEFAULT_MODEL
from prorank_integrations.engine.scorer import ProRankScorer, best_first, shared_scorer

logger = logging.getLogger(__name__)


@component
class ProRankRanker:
    """Reranks documents with a ProRank model: one forward pass per (query, document), score
    ``logit("1") - logit("0")`` (raw) or its sigmoid (``scale_score=True``, the default, in [0, 1]).

    Usage:

    ```python
    from haystack import Document
    from prorank_integrations.haystack import ProRankRanker

    ranker = ProRankRanker(model="mixedbread-ai/mxbai-rerank-base-v2", top_k=3)
    ranker.warm_up()
    result = ranker.run(query="City in Germany", documents=[Document(content="Paris"), Document(content="Berlin")])
    ```

    Documents with no content are not dropped: they are scored on their embedded meta fields (or an empty text)
    and ranked like any other, and a warning names them. Duplicates (same id) are reduced to one, as in
    Haystack's own rankers. Output documents are copies with ``score`` set; the inputs are never modified.
    Rankers (and LlamaIndex postprocessors) with the same model settings share one loaded engine per process.
    """

    def __init__(
        self,
        *,
        model: str | Path = DEFAULT_MODEL,
        adapter: str | Path | None = None,
        device: ComponentDevice | None = None,
        token: Secret | None = Secret.from_env_var(["HF_API_TOKEN", "HF_TOKEN"], strict=False),  # noqa: B008
        top_k: int = 10,
        score_threshold: float | None = None,
        scale_score: bool = True,
        instruction: str | None = None,
        query_prefix: str = "",
        document_prefix: str = "",
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        batch_size: int = 16,
        max_length: int = 1024,
        dtype: str = "auto",
        fast: str | None = None,
        prompt_layout: str | None = None,
        trust_remote_code: bool = False,
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        """
        :param model: a local path, a catalogue name (``prorank models list``) or a Hugging Face hub id.
        :param adapter: optional peft LoRA adapter folder loaded on top of ``model``.
        :param device: where to run; ``None`` picks CUDA, then MPS, then CPU.
        :param token: Hugging Face token for private models; serialised as an environment variable, never in clear.
        :param top_k: maximum number of documents returned.
        :param score_threshold: keep only documents whose (scaled or raw) score is at least this.
        :param scale_score: ``True``: relevance in [0, 1] (sigmoid); ``False``: the raw logit difference.
        :param instruction: optional task instruction placed in the ProRank prompt (``instruction: ...``).
        :param query_prefix: text prepended to the query.
        :param document_prefix: text prepended to every document.
        :param meta_fields_to_embed: meta fields whose values are prepended to the content.
        :param embedding_separator: joins meta values and content.
        :param batch_size: pairs per forward pass.
        :param max_length: tokens per (query, document) prompt; documents are truncated, the prompt's end never.
        :param dtype: ``auto`` (bf16 where the hardware has it), ``bf16``, ``fp16`` or ``fp32``.
        :param fast: engine speed modes, e.g. ``"prefix"`` (same scores, shared query prefix computed once) or
            ``"prefix,int8"`` (CPU, slightly different scores); ``None`` is exact mode.
        :param prompt_layout: ``None`` serves the layout the model records (``prorank.json``), else ``published``;
            ``"published"`` or ``"query-first"`` overrides it, for a model whose record was lost.
        :param trust_remote_code: allow custom model code from the hub (off: only verified architectures).
        :param model_kwargs: extra keyword arguments for ``AutoModelForCausalLM.from_pretrained``.
        :raises ValueError: if ``top_k`` or ``batch_size`` is not positive.
        """
        _check_top_k(top_k)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = str(model)
        self.adapter = str(adapter) if adapter is not None else None
        self.device = ComponentDevice.resolve_device(device)
        self.token = token
        self.top_k = top_k
        self.score_threshold = score_threshold
        self.scale_score = scale_score
        self.instruction = instruction
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.meta_fields_to_embed = meta_fields_to_embed or []
        self.embedding_separator = embedding_separator
        self.batch_size = batch_size
        self.max_length = max_length
        self.dtype = dtype
        self.fast = fast
        self.prompt_layout = prompt_layout
        self.trust_remote_code = trust_remote_code
        self.model_kwargs = model_kwargs
        self._scorer: ProRankScorer | None = None

    def _get_telemetry_data(self) -> dict[str, Any]:
        return {"model": self.model}

    def warm_up(self) -> None:
        """Load the model once (shared with every other component that uses the same settings)."""
        if self._scorer is None:
            self._scorer = shared_scorer(
                self.model, adapter=self.adapter, device=self.device.to_torch_str(), dtype=self.dtype,
                max_length=self.max_length, fast=self.fast, prompt_layout=self.prompt_layout,
                token=self.token.resolve_value() if self.token else None,
                trust_remote_code=self.trust_remote_code, model_kwargs=self.model_kwargs,
            )

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self, model=self.model, adapter=self.adapter, device=self.device.to_dict(),
            token=self.token.to_dict() if self.token else None, top_k=self.top_k,
            score_threshold=self.score_threshold, scale_score=self.scale_score, instruction=self.instruction,
            query_prefix=self.query_prefix, document_prefix=self.document_prefix,
            meta_fields_to_embed=self.meta_fields_to_embed, embedding_separator=self.embedding_separator,
            batch_size=self.batch_size, max_length=self.max_length, dtype=self.dtype,
            fast=self.fast, prompt_layout=self.prompt_layout, trust_remote_code=self.trust_remote_code,
            model_kwargs=self.model_kwargs,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProRankRanker:
        params = dict(data["init_parameters"])  # the caller's dict is not modified
        data = {**data, "init_parameters": params}
        if params.get("device") is not None:
            params["device"] = ComponentDevice.from_dict(params["device"])
        deserialize_secrets_inplace(params, keys=["token"])
        return default_from_dict(cls, data)

    def _text(self, doc: Document) -> str:
        meta = [str(doc.meta[k]) for k in self.meta_fields_to_embed if doc.meta.get(k) not in (None, "")]
        return self.document_prefix + self.embedding_separator.join([*meta, doc.content or ""])

    def _prepare(self, query: str, documents: list[Document], top_k: int | None) -> tuple[list[Document], int]:
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        for i, doc in enumerate(documents):
            if not isinstance(doc, Document):
                raise TypeError(f"documents[{i}] must be a haystack Document, got {type(doc).__name__}")
        top_k = self.top_k if top_k is None else top_k
        _check_top_k(top_k)
        docs = _deduplicate_documents(documents)
        empty = [d.id for d in docs if not d.content]
        if empty:
            logger.warning("ProRankRanker: %d document(s) without text are scored on meta fields/empty text: %s",
                           len(empty), empty)
        return docs, top_k

    def _finish(self, docs: list[Document], raw: Any, top_k: int, score_threshold: float | None,
                scale_score: bool | None) -> dict[str, list[Document]]:
        scale = self.scale_score if scale_score is None else scale_score
        threshold = self.score_threshold if score_threshold is None else score_threshold
        scores = self._scorer.relevance(raw) if scale else raw
        out = [dataclasses.replace(docs[i], score=float(scores[i])) for i in best_first(raw)]
        if threshold is not None:
            out = [d for d in out if d.score >= threshold]
        return {"documents": out[:top_k]}

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document], top_k: int | None = None,
            score_threshold: float | None = None, scale_score: bool | None = None) -> dict[str, list[Document]]:
        """Rank ``documents`` for ``query``; arguments given here override the ones set at init.

        :raises ValueError: if ``top_k`` is not positive.
        :raises TypeError: if the query is not a string or an item is not a ``Document``.
        """
        docs, top_k = self._prepare(query, documents, top_k)
        if not docs:
            return {"documents": []}
        self.warm_up()
        raw = self._scorer.score(self.query_prefix + query, [self._text(d) for d in docs],
                                 instruction=self.instruction, batch_size=self.batch_size)
        return self._finish(docs, raw, top_k, score_threshold, scale_score)

    @component.output_types(documents=list[Document])
    async def run_async(self, query: str, documents: list[Document], top_k: int | None = None,
                        score_threshold: float | None = None,
                        scale_score: bool | None = None) -> dict[str, list[Document]]:
        """As :meth:`run`, with the forward passes in a worker thread so the event loop stays free."""
        docs, top_k = self._prepare(query, documents, top_k)
        if not docs:
            return {"documents": []}
        await asyncio.to_thread(self.warm_up)
        raw = await asyncio.to_thread(self._scorer.score, self.query_prefix + query,
                                      [self._text(d) for d in docs], instruction=self.instruction,
                                      batch_size=self.batch_size)
        return self._finish(docs, raw, top_k, score_threshold, scale_score)


def _check_top_k(top_k: int) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k <= 0:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
