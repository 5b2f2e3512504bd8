"""Answer generation for the RAG benchmark: a local instruction model through transformers, or any
OpenAI-compatible endpoint, behind one small interface that both framework pipelines wrap."""

from __future__ import annotations

import threading
from typing import Any, Protocol

RAG_SYSTEM = "Answer the question using only the context. Reply with the answer only: a short phrase, no sentence."
RAG_USER = "Context:\n{context}\n\nQuestion: {question}\nAnswer:"


def rag_messages(question: str, contexts: list[str]) -> list[dict[str, str]]:
    """The one RAG prompt of the benchmark, shared by the Haystack and the LlamaIndex pipelines."""
    context = "\n\n".join(f"[{i + 1}] {c}" for i, c in enumerate(contexts))
    return [{"role": "system", "content": RAG_SYSTEM},
            {"role": "user", "content": RAG_USER.format(context=context, question=question)}]


class Generator(Protocol):
    name: str
    precision: str | None  # the dtype a local model computes in (answers differ across dtypes); None for endpoints

    def generate(self, messages: list[dict[str, str]]) -> str: ...


class LocalGenerator:
    """Greedy decoding with a local causal LM (catalogue name, path or hub id) and its chat template."""

    def __init__(self, model: str, max_new_tokens: int = 32, max_input_tokens: int = 2048,
                 dtype: str = "auto") -> None:
        import torch

        from prorank_integrations.engine import models
        from prorank_integrations.engine.scorer import auto_device, resolve_dtype

        device = auto_device()
        self.name, self.max_new_tokens, self.max_input_tokens = model, max_new_tokens, max_input_tokens
        resolved = resolve_dtype(dtype, device)
        self.precision = str(resolved).removeprefix("torch.")
        self.tokenizer, self.model = models.load(models.resolve(model), dtype=resolved, device=device)
        self._torch = torch
        self._lock = threading.Lock()

    def generate(self, messages: list[dict[str, str]]) -> str:
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                 return_dict=True)["input_ids"][:, -self.max_input_tokens:]
        with self._lock, self._torch.inference_mode():
            out = self.model.generate(ids.to(self.model.device), max_new_tokens=self.max_new_tokens, do_sample=False,
                                      pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
        return self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


class OpenAICompatibleGenerator:
    """Any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, OpenAI...), given by URL; never implicit."""

    def __init__(self, url: str, model: str, api_key: str | None = None, max_new_tokens: int = 32) -> None:
        from openai import OpenAI

        self.name, self.max_new_tokens, self.precision = f"{model}@{url}", max_new_tokens, None
        self.client, self.model = OpenAI(base_url=url, api_key=api_key or "none"), model

    def generate(self, messages: list[dict[str, str]]) -> str:
        reply = self.client.chat.completions.create(model=self.model, messages=messages, temperature=0,
                                                    max_tokens=self.max_new_tokens)
        return (reply.choices[0].message.content or "").strip()


def make_generator(spec: str, **kwargs: Any) -> Generator:
    """``local:MODEL`` or ``openai:MODEL@URL``."""
    kind, _, rest = spec.partition(":")
    if kind == "local" and rest:
        return LocalGenerator(rest, **kwargs)
    if kind == "openai" and "@" in rest:
        model, _, url = rest.partition("@")
        return OpenAICompatibleGenerator(url, model, **kwargs)
    raise ValueError(f"generator spec {spec!r}: use local:MODEL or openai:MODEL@URL")
