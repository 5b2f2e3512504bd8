"""The ProRank prompt: the only place in the project where prompts are built.

The default layout is the published one (ProRank paper, mxbai-rerank-v2), assembled from separately tokenised
pieces so that truncation works in tokens and the task prompt and chat suffix always survive:

    published:    chat prefix | [instruction: ...\\n] query: ... | \\n | document: ... | \\n | task prompt | chat suffix
    query-first:  chat prefix | task description \\n | [instruction: ...\\n] query: ... | \\n | document: ... |
                  \\n Relevance: | chat suffix

``query-first`` has the same words in another order, for models trained here with it: everything before the
document is shared by all documents of a query, so the engine's ``prefix`` fast mode computes it once, and only the
document and a few tokens after it run per document. A model records its layout in ``prorank.json`` beside its
weights (see :func:`prorank_integrations.engine.models.prompt_layout`); published checkpoints use ``published``.

Inference, training and benchmarks all encode through :class:`ProRankPrompt`, so what is trained is what is served.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

SYSTEM_PROMPT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
CHAT_PREFIX = f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n"
CHAT_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"
TASK_DESCRIPTION = (
    "You are a search relevance expert who evaluates how well documents match search queries. For each "
    "query-document pair, carefully analyze the semantic relationship between them, then provide your binary "
    "relevance judgment (0 for not relevant, 1 for relevant)."
)
CUE = "Relevance:"
SEP = "\n"
TASK_PROMPT = f"{TASK_DESCRIPTION}{SEP}{CUE}"
LAYOUTS = ("published", "query-first")
RELEVANCE_TOKENS = ("1", "0")
_MARK = "\u2063PRORANK_USER_TEXT\u2063"


@dataclass(frozen=True)
class PromptTemplate:
    """The text of the prompt around the user's query and document."""

    prefix: str = CHAT_PREFIX
    suffix: str = CHAT_SUFFIX
    task: str = TASK_PROMPT  # after the document
    sep: str = SEP
    lead: str = ""  # before the query

    @classmethod
    def for_model(cls, tokenizer: Any, model_type: str | None = None, layout: str = "published") -> PromptTemplate:
        """The published chat format for Qwen2 models; other models keep the same user text in their own chat format.
        ``layout`` orders the user text (see the module docstring)."""
        if layout not in LAYOUTS:
            raise ValueError(f"unknown prompt layout {layout!r}; choose from {list(LAYOUTS)}")
        words = {} if layout == "published" else {"lead": f"{TASK_DESCRIPTION}{SEP}", "task": CUE}
        if model_type in (None, "qwen2") or getattr(tokenizer, "chat_template", None) is None:
            return cls(**words)
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": _MARK}], add_generation_prompt=True, tokenize=False
        )
        prefix, _, suffix = rendered.partition(_MARK)
        return cls(prefix=prefix, suffix=suffix, **words)

    def user_text(self, query: str, document: str, instruction: str | None = None) -> str:
        head = f"instruction: {instruction}{self.sep}" if instruction else ""
        return f"{self.lead}{head}query: {query}{self.sep}document: {document}{self.sep}{self.task}"

    def render(self, query: str, document: str, instruction: str | None = None) -> str:
        """The full prompt as text (before truncation): for reading, debugging and reference implementations."""
        return f"{self.prefix}{self.user_text(query, document, instruction)}{self.suffix}"


class ProRankPrompt:
    """Encodes (query, document) pairs to token ids with the template, truncating in tokens.

    The query (with the optional instruction) is capped at ``max_query_tokens``; the document gets the rest of
    ``max_length``; the separator, task prompt and chat suffix are never cut, so the last position is always the
    one the model answers at.
    """

    def __init__(
        self,
        tokenizer: Any,
        template: PromptTemplate | None = None,
        *,
        max_length: int = 1024,
        max_query_tokens: int | None = None,
        relevance_tokens: tuple[str, str] = RELEVANCE_TOKENS,
    ) -> None:
        self.tokenizer = tokenizer
        self.template = template or PromptTemplate()
        self.max_length = max_length
        self.token_ids = tuple(self._single_token(t) for t in relevance_tokens)
        self.relevance_tokens = tuple(relevance_tokens)
        t = self.template
        self._prefix = self._ids(t.prefix) + self._ids(t.lead)
        self._sep = self._ids(t.sep)
        self._tail = self._sep + self._ids(t.task) + self._ids(t.suffix)
        self.static_length = len(self._prefix) + len(self._sep) + len(self._tail)
        budget = max_length - self.static_length
        if budget < 16:
            raise ValueError(
                f"max_length={max_length} leaves {budget} tokens for the query and document after the "
                f"{self.static_length}-token template; use max_length >= {self.static_length + 16}"
            )
        self.max_query_tokens = min(max_query_tokens or budget // 2, budget - 8)

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _single_token(self, text: str) -> int:
        ids = self._ids(text)
        if len(ids) != 1:
            raise ValueError(
                f"relevance token {text!r} encodes to {len(ids)} tokens {ids} with this tokenizer; the score needs "
                "single tokens (note that ' 1' with a leading space is two tokens in Qwen: use '1')"
            )
        return ids[0]

    def query_ids(self, query: str, instruction: str | None = None) -> list[int]:
        """The prefix shared by every document of a query: chat prefix, lead, instruction and query (capped)."""
        head = f"instruction: {instruction}{self.template.sep}" if instruction else ""
        ids = self._ids(f"{head}query: {query}")
        if head and len(ids) > self.max_query_tokens:  # the instruction yields room to the query, never the reverse
            asked = self._ids(f"query: {query}")[: self.max_query_tokens]
            ids = self._ids(head)[: self.max_query_tokens - len(asked)] + asked
            warnings.warn(f"instruction and query exceed the {self.max_query_tokens}-token query budget: the "
                          "instruction is cut to make room for the query", stacklevel=2)
        return self._prefix + ids[: self.max_query_tokens]

    def encode(self, query: str, documents: list[str], instruction: str | None = None) -> list[list[int]]:
        """Token ids of every (query, document) pair, each at most ``max_length`` long."""
        head = self.query_ids(query, instruction) + self._sep
        room = self.max_length - len(head) - len(self._tail)
        if not documents:
            return []
        docs = self.tokenizer([f"document: {d}" for d in documents], add_special_tokens=False)["input_ids"]
        return [head + d[:room] + self._tail for d in docs]
