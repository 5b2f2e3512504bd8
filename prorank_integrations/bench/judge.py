"""Judge-LLM RAGAS metrics for the RAG benchmark: ``Faithfulness``, ``LLMContextPrecisionWithReference`` and
``ResponseRelevancy``, scored by a judge the user names (``local:MODEL`` through transformers, or
``openai:MODEL@URL``), never by a network model chosen behind their back.

The judge is the benchmark's own :class:`~prorank_integrations.bench.generation.Generator` behind a small RAGAS LLM
wrapper, and ``ResponseRelevancy`` embeds with the local MiniLM through sentence-transformers. A judge answer that
RAGAS cannot parse (small local judges often write no valid JSON) is recorded as NaN and counted, not replaced.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from langchain_core.outputs import Generation, LLMResult
from ragas.embeddings.base import BaseRagasEmbeddings
from ragas.llms.base import BaseRagasLLM

from prorank_integrations.bench.generation import Generator, make_generator

logger = logging.getLogger(__name__)

JUDGE_METRICS = ("faithfulness", "llm_context_precision_with_reference", "answer_relevancy")


@dataclass
class GeneratorLLM(BaseRagasLLM):
    """A RAGAS LLM over any benchmark generator; the prompt RAGAS builds is sent as one user message."""

    generator: Any = field(default=None, repr=False)

    def generate_text(self, prompt: Any, n: int = 1, temperature: float | None = 0.01, stop: list[str] | None = None,
                      callbacks: Any = None) -> LLMResult:
        text = self.generator.generate([{"role": "user", "content": prompt.to_string()}])
        return LLMResult(generations=[[Generation(text=text) for _ in range(n)]])

    async def agenerate_text(self, prompt: Any, n: int = 1, temperature: float | None = 0.01,
                             stop: list[str] | None = None, callbacks: Any = None) -> LLMResult:
        return await asyncio.to_thread(self.generate_text, prompt, n, temperature, stop, callbacks)

    def is_finished(self, response: LLMResult) -> bool:
        return True


class MiniLMEmbeddings(BaseRagasEmbeddings):
    """RAGAS embeddings from a local sentence-transformers model (catalogue name or path)."""

    def __init__(self, model: str = "all-minilm-l6-v2") -> None:
        super().__init__()
        from sentence_transformers import SentenceTransformer

        from prorank_integrations.bench.rerankers import local_model_path

        self.model = SentenceTransformer(local_model_path(model), device="cpu")

    def embed_query(self, text: str) -> list[float]:
        return self.model.encode(text).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode(list(texts)).tolist()

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)


class Judge:
    """Scores answered questions with the three judge metrics; ``name`` goes into the results."""

    def __init__(self, generator: Generator, embeddings: str = "all-minilm-l6-v2") -> None:
        from ragas.metrics import Faithfulness, LLMContextPrecisionWithReference, ResponseRelevancy
        from ragas.run_config import RunConfig

        self.name = generator.name
        llm = GeneratorLLM(generator=generator, run_config=RunConfig(max_retries=1))
        self.metrics = [Faithfulness(llm=llm), LLMContextPrecisionWithReference(llm=llm),
                        ResponseRelevancy(llm=llm, embeddings=MiniLMEmbeddings(embeddings), strictness=1)]

    def score(self, question: str, answer: str, contexts: list[str], reference: str) -> dict[str, float]:
        """The judge metrics of one answer; NaN where the judge's output could not be used."""
        from ragas import SingleTurnSample

        sample = SingleTurnSample(user_input=question, response=answer, retrieved_contexts=contexts or [""],
                                  reference=reference)
        out = {}
        for metric in self.metrics:
            try:
                value = float(metric.single_turn_score(sample))
            except Exception as err:  # noqa: BLE001 - RAGAS raises many types for an unusable judge answer
                logger.warning("judge metric %s failed (%s: %s); recorded as NaN", metric.name,
                               type(err).__name__, err)
                value = math.nan
            out[metric.name] = value
        return out


def make_judge(spec: str, max_new_tokens: int = 512) -> Judge:
    """``local:MODEL`` or ``openai:MODEL@URL``, as for generators, with room for the judge's longer answers."""
    return Judge(make_generator(spec, max_new_tokens=max_new_tokens))
