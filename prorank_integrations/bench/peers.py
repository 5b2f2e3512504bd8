"""Peer implementations of the ProRank score for the side-by-side speed benchmark.

Each peer has ``score(query, texts) -> np.ndarray`` and computes the engine's score, ``logit("1") - logit("0")``
at the last position, on the engine's token ids, with a different runtime. Equal outputs make the timings comparable:
a peer that were faster by scoring a different prompt would prove nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from prorank_integrations.engine.scorer import ProRankScorer, left_pad


class NaivePeer:
    """The plainest correct implementation: one pair at a time, full forward, full-vocabulary logits.

    No padding and no batching, so it also checks the engine's left padding and position ids."""

    def __init__(self, engine: ProRankScorer) -> None:
        self.engine = engine

    @torch.inference_mode()
    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        id1, id0 = self.engine.prompt.token_ids
        out = np.empty(len(texts), dtype=np.float32)
        for i, ids in enumerate(self.engine.encode(query, texts)):
            input_ids = torch.tensor([ids], device=self.engine.device)
            logits = self.engine.model(input_ids=input_ids).logits[:, -1].float()
            out[i] = (logits[:, id1] - logits[:, id0]).item()
        return out


def _engine_prompt_transformer() -> type:
    """The sentence-transformers ``Transformer`` subclass used by :class:`SentenceTransformersPeer` (built lazily,
    as sentence-transformers is an optional dependency)."""
    from sentence_transformers.base.modules import Transformer

    class EnginePromptTransformer(Transformer):
        """A causal-LM ``Transformer`` whose ``preprocess`` turns (query, document) pairs into the engine's ids."""

        engine: ProRankScorer

        def preprocess(self, inputs: Sequence[tuple[str, str]], prompt: str | None = None,
                       **kwargs: Any) -> dict[str, Any]:
            # CrossEncoder.predict hands over one query's pairs (see SentenceTransformersPeer.score): encode them
            # together, as the engine does.
            query = inputs[0][0]
            sequences = self.engine.encode(query, [doc for _, doc in inputs])
            input_ids, attention_mask = left_pad(sequences, self.engine.pad_id)
            return {"input_ids": input_ids, "attention_mask": attention_mask, "modality": "text",
                    "logits_to_keep": 1}

    return EnginePromptTransformer


class SentenceTransformersPeer:
    """A sentence-transformers ``CrossEncoder`` set up as a causal-LM reranker, scoring the engine's prompt.

    Setup (sentence-transformers 6.x)::

        transformer = Transformer(model_path, transformer_task="text-generation",
                                  model_kwargs={"dtype": engine.dtype})   # AutoModelForCausalLM, left padding
        CrossEncoder(modules=[transformer, LogitScore(true_token_id=id("1"), false_token_id=id("0"))],
                     device=engine.device, activation_fn=torch.nn.Identity())

    and ``predict([(query, text), ...], batch_size=batch_size)``. The Transformer runs the causal LM with
    ``logits_to_keep=1``; ``LogitScore`` takes ``logits[:, -1, id("1")] - logits[:, -1, id("0")]``; the identity
    activation keeps that raw difference (a one-label CrossEncoder applies a sigmoid by default).

    One change: ``Transformer.preprocess`` is overridden to encode each pair with the engine's ``ProRankPrompt``.
    Feeding the rendered prompt as text would not give the same ids: the engine tokenises the prompt in pieces,
    and Qwen's pre-tokeniser merges a document's or query's final punctuation with the following newline (".\\n",
    "?\\n" are single tokens) when the text is tokenised whole; truncation also differs. Everything else
    (length-sorted batching, the forward with ``logits_to_keep=1``, LogitScore) is sentence-transformers' own. No
    ``position_ids`` are passed, as in sentence-transformers; rotary embeddings make the left-padding offset
    irrelevant up to rounding.

    The weights are loaded again from ``model_path`` (a plain transformers folder: merge any adapter first) in the
    engine's dtype. In bf16, ``LogitScore`` subtracts two bf16 logits, so scores differ from the engine's (which
    subtracts in fp32) by about the bf16 resolution of the logits: that is sentence-transformers' behaviour.
    """

    def __init__(self, model_path: str, engine: ProRankScorer, batch_size: int = 16) -> None:
        from sentence_transformers import CrossEncoder
        from sentence_transformers.cross_encoder.modules import LogitScore

        transformer = _engine_prompt_transformer()(model_path, transformer_task="text-generation",
                                                   model_kwargs={"dtype": engine.dtype})
        transformer.engine = engine
        true_id, false_id = engine.prompt.token_ids
        self.model = CrossEncoder(modules=[transformer, LogitScore(true_token_id=true_id, false_token_id=false_id)],
                                  device=engine.device, activation_fn=torch.nn.Identity())
        self.batch_size = batch_size

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        scores = self.model.predict([(query, text) for text in texts], batch_size=self.batch_size,
                                    show_progress_bar=False)
        return np.asarray(scores, dtype=np.float32)


# --- mxbai-rerank compatibility shim (transformers 5) -----------------------------------------------------------
def _prepare_for_model_shim(ids: list[int], pair_ids: list[int], *, max_length: int,
                            **_: Any) -> dict[str, list[int]]:
    """Stands in for ``tokenizer.prepare_for_model``, removed in transformers 5, for mxbai-rerank 0.1.6's only call:
    join query and document ids without special tokens, cutting the document (``truncation="only_second"``) so
    the pair fits ``max_length``. Padding, masks and token type ids are off in that call."""
    return {"input_ids": ids + pair_ids[: max(max_length - len(ids), 0)]}
# --- end of shim ----------------------------------------------------------------------------------------------


class MxbaiPeer:
    """The reference implementation of the published checkpoints: ``mxbai_rerank.MxbaiRerankV2`` (mxbai-rerank 0.1.6).

    Not a dependency of this project (it was written for transformers 4): install it to benchmark it; without it
    the constructor raises ``ImportError`` with the reason. Its prompt is the engine's, tokenised in the same
    pieces. Its ``max_length`` counts the query, separator and document only, so it is set to the engine's budget
    for them: truncated documents keep the same ids (queries longer than the engine's query cap are cut
    differently). On transformers 5, where tokenizers lost ``prepare_for_model``, the shim above supplies it.
    Scores come from ``rank(..., sort=False)``, with its own length-bucketed batches.
    """

    def __init__(self, model_path: str, engine: ProRankScorer, batch_size: int = 16) -> None:
        try:
            from mxbai_rerank import MxbaiRerankV2
        except ImportError as err:
            raise ImportError(
                f"MxbaiPeer needs the mxbai-rerank package (pip install mxbai-rerank==0.1.6), which this project "
                f"deliberately does not depend on; importing it failed: {err}"
            ) from err
        prompt = engine.prompt
        sep = prompt.tokenizer(prompt.template.sep, add_special_tokens=False)["input_ids"]
        budget = prompt.max_length - prompt.static_length + len(sep)  # mxbai counts one of the two separators
        self.model = MxbaiRerankV2(model_path, device=engine.device, torch_dtype=engine.dtype, max_length=budget)
        if not hasattr(self.model.tokenizer, "prepare_for_model"):
            self.model.tokenizer.prepare_for_model = _prepare_for_model_shim
        self.batch_size = batch_size

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty(0, dtype=np.float32)
        try:
            results = self.model.rank(query, list(texts), top_k=len(texts), batch_size=self.batch_size, sort=False,
                                      return_documents=False)
        except AttributeError as err:
            import transformers

            raise RuntimeError(
                f"mxbai-rerank failed with transformers {transformers.__version__} (it was written for 4.x): {err}"
            ) from err
        return np.array([r.score for r in sorted(results, key=lambda r: r.index)], dtype=np.float32)
