"""ProRankScorer: (query, documents) -> relevance scores, with one forward pass per pair.

The score is ``logit("1") - logit("0")`` at the last position. It is computed from the final hidden state of the
last token and only the two rows of the output head that matter, in fp32: no full-vocabulary logits, and no bf16
rounding of a small difference between two large numbers (which would reorder documents).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prorank_integrations.engine import models
from prorank_integrations.engine.packing import enable_packing, packed_last_hidden, supports_packing
from prorank_integrations.engine.prompt import RELEVANCE_TOKENS, PromptTemplate, ProRankPrompt

logger = logging.getLogger(__name__)


class ScoreCache:
    """LRU cache of scores keyed by a hash of the token ids (which fix model input exactly); thread-safe."""

    def __init__(self, size: int) -> None:
        self.size, self.hits, self.misses = size, 0, 0
        self._data: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(ids: Sequence[int]) -> bytes:
        return hashlib.blake2b(np.asarray(ids, dtype=np.int64).tobytes(), digest_size=16).digest()

    def fill(self, sequences: Sequence[Sequence[int]], out: np.ndarray) -> list[int]:
        """Write cached scores into ``out``; return the positions still to compute."""
        if self.size <= 0:
            return list(range(len(sequences)))
        todo = []
        with self._lock:
            for i, seq in enumerate(sequences):
                k = self.key(seq)
                if k in self._data:
                    self._data.move_to_end(k)
                    out[i] = self._data[k]
                    self.hits += 1
                else:
                    todo.append(i)
                    self.misses += 1
        return todo

    def store(self, sequences: Sequence[Sequence[int]], scores: np.ndarray) -> None:
        if self.size <= 0:
            return
        with self._lock:
            for seq, score in zip(sequences, scores):
                self._data[self.key(seq)] = float(score)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


def _causal_lm(model: Any) -> Any:
    """The transformers causal LM inside a peft wrapper (LoRA layers stay active), or the model itself."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def relevance_scores(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     token_ids: tuple[int, int]) -> torch.Tensor:
    """The ProRank score of each left-padded sequence: the one scoring function of the project (differentiable).

    Training calls this with gradients on; inference under ``torch.inference_mode``.
    """
    lm = _causal_lm(model)
    position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    hidden = lm.get_decoder()(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                              use_cache=False).last_hidden_state[:, -1]
    return _head_difference(lm, hidden, token_ids)


def _head_difference(lm: Any, hidden: torch.Tensor, token_ids: tuple[int, int]) -> torch.Tensor:
    """``logit(yes) - logit(no)`` from final hidden states, with only the two head rows, in fp32."""
    head = lm.get_output_embeddings()
    rows = head.weight[list(token_ids)].float()
    logits = hidden.float() @ rows.T
    if getattr(head, "bias", None) is not None:
        logits = logits + head.bias[list(token_ids)].float()
    return logits[:, 0] - logits[:, 1]


def relevance_scores_packed(model: Any, sequences: Sequence[Sequence[int]], token_ids: tuple[int, int],
                            device: Any = "cpu") -> torch.Tensor:
    """The same scores as :func:`relevance_scores`, the sequences run as one packed row without padding
    (:mod:`prorank_integrations.engine.packing`; the model must have packing enabled)."""
    lm = _causal_lm(model)
    return _head_difference(lm, packed_last_hidden(lm.get_decoder(), sequences, device), token_ids)


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix every sequence shares (for a query's documents: chat prefix, query, separator)."""
    first, n = sequences[0], min(len(s) for s in sequences)
    for i in range(n):
        if any(s[i] != first[i] for s in sequences):
            return i
    return n


def relevance_scores_shared_prefix(model: Any, sequences: Sequence[Sequence[int]], prefix_length: int,
                                   token_ids: tuple[int, int], device: Any = "cpu",
                                   padding: bool = True) -> torch.Tensor:
    """The same scores as :func:`relevance_scores`, computing the shared prefix once.

    The prefix's key/value cache is computed once. With ``padding`` it is repeated over the batch and the suffixes
    (document, task prompt, chat suffix) are right-padded, which causal attention never lets a real token see,
    each row's score read at its own last real token; without, each suffix runs on its own against the cache,
    which is cut back to the prefix after each. Equal to the full forward up to floating-point rounding."""
    lm = _causal_lm(model)
    decoder = lm.get_decoder()
    cache_arg = "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
    prefix = torch.tensor([list(sequences[0][:prefix_length])], dtype=torch.long, device=device)
    first = decoder(input_ids=prefix, use_cache=True)
    cache = first.cache if getattr(first, "cache", None) is not None else first.past_key_values
    if not padding:
        hidden = []
        for seq in sequences:
            suffix = torch.tensor([list(seq[prefix_length:])], dtype=torch.long, device=device)
            positions = torch.arange(prefix_length, len(seq), device=device)[None]
            out = decoder(input_ids=suffix, position_ids=positions, use_cache=True, **{cache_arg: cache})
            hidden.append(out.last_hidden_state[0, -1])
            cache.crop(-suffix.shape[1])  # negative: remove this many tokens (transformers 4.5x and 5 alike)
        return _head_difference(lm, torch.stack(hidden), token_ids)
    cache.batch_repeat_interleave(len(sequences))
    suffixes = [list(s[prefix_length:]) for s in sequences]
    width = max(len(s) for s in suffixes)
    ids = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, suffix in enumerate(suffixes):
        ids[row, : len(suffix)] = torch.tensor(suffix, dtype=torch.long)
    positions = torch.arange(prefix_length, prefix_length + width, device=device).expand(len(sequences), -1)
    hidden = decoder(input_ids=ids.to(device), position_ids=positions, use_cache=True,
                     **{cache_arg: cache}).last_hidden_state
    last = torch.tensor([len(s) - 1 for s in suffixes], device=device)
    return _head_difference(lm, hidden[torch.arange(len(sequences), device=device), last], token_ids)


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int, device: Any = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Stack token id lists into ``input_ids`` and ``attention_mask``, padded on the left so position -1 is real."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        if seq:
            ids[row, width - len(seq):] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq):] = 1
    return ids.to(device), mask.to(device)


def plan_batches(lengths: Sequence[int], batch_size: int, max_batch_tokens: int | None,
                 padding: bool = True, packing: bool = False) -> list[list[int]]:
    """Group indices longest first so each batch pads little; cap each batch by size and padded tokens.

    ``padding=False`` puts only sequences of equal length together: no token is spent on padding. ``packing``
    puts any lengths together (nothing is padded) and caps the batch by the sum of its lengths."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        width = lengths[current[0]] if current else lengths[i]
        tokens = sum(lengths[j] for j in current) + lengths[i] if packing else width * (len(current) + 1)
        too_many = len(current) >= batch_size
        too_big = max_batch_tokens is not None and current and tokens > max_batch_tokens
        other_length = not (padding or packing) and current and lengths[i] != width
        if too_many or too_big or other_length:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def auto_device() -> str:
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux; empty elsewhere): they decide ``dtype="auto"`` and CPU speed."""
    try:
        return set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return set()


def _cpu_has_bf16() -> bool:
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def resolve_dtype(dtype: str | torch.dtype, device: str) -> torch.dtype:
    """``auto``: bf16 where the hardware computes it natively (recent GPUs, CPUs with AVX512-BF16/AMX), else fp32."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype != "auto":
        names = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
                 "fp32": torch.float32, "float32": torch.float32}
        if dtype not in names:
            raise ValueError(f"unknown dtype {dtype!r}; use auto, {', '.join(names)}")
        return names[dtype]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.startswith("cpu") and _cpu_has_bf16():
        return torch.bfloat16
    return torch.float32


def _valid_unicode(text: str, where: str) -> str:
    """Unpaired surrogates (not valid Unicode, e.g. from bad decoding) are scored as U+FFFD; the caller's text is
    left as it is. Anything else is passed through unchanged."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        logger.warning("%s holds unpaired surrogate code points; they are scored as U+FFFD", where)
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _check_texts(query: Any, documents: Any) -> tuple[str, list[str]]:
    """Validate types (naming the offending position) and return scorable copies of the query and documents."""
    if not isinstance(query, str):
        raise TypeError(f"query must be a str, got {type(query).__name__}")
    if isinstance(documents, str):
        raise TypeError("documents must be a sequence of str, not a single str")
    docs = list(documents)
    for i, d in enumerate(docs):
        if not isinstance(d, str):
            raise TypeError(f"documents[{i}] must be a str, got {type(d).__name__}")
    return _valid_unicode(query, "query"), [_valid_unicode(d, f"documents[{i}]") for i, d in enumerate(docs)]


@dataclass(frozen=True)
class Calibration:
    """Maps a raw score to a probability of relevance: ``sigmoid((score - shift) / temperature)``."""

    shift: float = 0.0
    temperature: float = 1.0

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        z = (np.asarray(scores, dtype=np.float64) - self.shift) / self.temperature
        return np.exp(-np.logaddexp(0.0, -z)).astype(np.float32)  # the sigmoid, without overflow


FAST_MODES = ("prefix", "int8", "compile")
MIN_SHARED_PREFIX = 8  # below this, one full forward is as cheap as a prefix pass plus a suffix pass
PREFIX_GROUP = 256  # pairs sharing one prefix computation when sequences run one by one
PACK_TOKENS = 1024  # tokens per packed batch on a CPU: faster than 2048 in a probe (benchmarks/results/speed/packing)


def parse_fast(fast: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"prefix"``, ``"int8"``, ``"compile"``, a comma list (``"prefix,int8"``) or a sequence of them; ``None``
    or ``""`` is exact mode."""
    modes = tuple(m.strip() for m in (fast.split(",") if isinstance(fast, str) else fast or ()) if m.strip())
    unknown = [m for m in modes if m not in FAST_MODES]
    if unknown:
        raise ValueError(f"unknown fast mode(s) {unknown}; choose from {list(FAST_MODES)}")
    if "int8" in modes and "compile" in modes:
        raise ValueError("fast modes 'int8' and 'compile' cannot be combined")
    return tuple(m for m in FAST_MODES if m in modes)


def quantize_int8(model: Any) -> Any:
    """Dynamic int8 quantisation of the decoder's linear layers (CPU only; weights int8, activations quantised per
    batch). Changes the scores, by a lot on the 0.5B model (the speed benchmark reports by how much)."""
    import warnings

    from torch.ao.quantization import quantize_dynamic

    lm = _causal_lm(model)
    decoder = lm.get_decoder().float()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (DeprecationWarning, UserWarning))
        quantize_dynamic(decoder, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    lm.get_output_embeddings().float()
    return model


COMPILED_BLOCKS = ("mlp", "input_layernorm", "post_attention_layernorm")


def compile_blocks(model: Any) -> None:
    """``torch.compile`` (inductor, dynamic shapes) of each decoder layer's MLP and norms: it fuses the element-wise
    work around the matrix products (about a tenth of exact-mode time in a profile). Attention is left as it is, so
    packed rows of any length run without recompiling."""
    layers = getattr(_causal_lm(model).get_decoder(), "layers", None)
    if not layers or any(not hasattr(layer, name) for layer in layers for name in COMPILED_BLOCKS):
        raise ValueError(f"fast mode 'compile' needs decoder layers with {list(COMPILED_BLOCKS)} (Qwen2, Llama)")
    for layer in layers:
        for name in COMPILED_BLOCKS:
            getattr(layer, name).compile(dynamic=True)


class ProRankScorer:
    """Scores (query, document) pairs with a causal LM and the ProRank prompt.

    ``model`` is a local path, a catalogue name or a hub id (see :mod:`prorank_integrations.engine.models`);
    ``adapter`` an optional peft adapter folder. Safe to share between threads: forward passes are serialised.

    ``padding`` (default: on accelerators only): batch sequences of different lengths by left padding. On a CPU
    padding costs more than batching gains (``benchmarks/results/speed``: 0.98 pairs/s with padded batches of 16,
    1.41 without), so there nothing is padded.

    ``packing`` (default: on a CPU, for models with SDPA attention): run several sequences as one row of up to
    ``PACK_TOKENS`` tokens, each attending only to itself (:mod:`prorank_integrations.engine.packing`): the same
    scores as one sequence per forward pass, with larger matrix products (``benchmarks/results/speed`` has the gain).
    Under ``fast="int8"`` activations are quantised per batch, so there the batch's other pairs move scores slightly.

    ``prompt_layout`` (default: the one recorded in the model's or adapter's ``prorank.json``, else
    ``"published"``): the order of the prompt's parts (:mod:`prorank_integrations.engine.prompt`); a model must be
    served with the layout it was trained with.

    ``fast`` turns on speed modes (exact mode when empty): ``"prefix"`` computes the prompt prefix a query's
    documents share (chat prefix, query) once per batch instead of once per document: the same function, equal
    in fp32 (tested to 1e-4), while in bf16 the other order of computation rounds differently (the speed benchmark
    reports the largest difference), so it is off by default; ``"int8"`` runs the decoder's linear layers in
    dynamic int8 (CPU): faster, but on qwen2.5-coder-0.5b it moved scores by up to 2.7 and needed 4.6 GB (the
    model is made fp32 first), so treat it as experimental; ``"compile"`` compiles each layer's MLP and norms with
    ``torch.compile`` (:func:`compile_blocks`): the same function with fused element-wise work, equal in fp32 (tested to
    1e-4) but rounded differently in bf16, and the first batches pay the compilation (about 10 s for the 0.5B model).
    ``benchmarks/results/speed`` has what each costs and gains.
    """

    def __init__(
        self,
        model: str = models.DEFAULT_MODEL,
        *,
        adapter: str | None = None,
        device: str | None = None,
        dtype: str | torch.dtype = "auto",
        max_length: int = 1024,
        max_query_tokens: int | None = None,
        batch_size: int = 16,
        max_batch_tokens: int | None = 16384,
        relevance_tokens: tuple[str, str] = RELEVANCE_TOKENS,
        calibration: Calibration | None = None,
        cache_size: int = 4096,
        fast: str | Sequence[str] | None = None,
        padding: bool | None = None,
        packing: bool | None = None,
        prompt_layout: str | None = None,
        token: str | None = None,
        trust_remote_code: bool = False,
        model_kwargs: dict | None = None,
        show_progress: bool = False,
    ) -> None:
        self.model_name = model
        self.device = device or auto_device()
        self.dtype = resolve_dtype(dtype, self.device)
        resolved = models.resolve(model, adapter)
        self.adapter = resolved.adapter
        tokenizer, lm = models.load(resolved, dtype=self.dtype, device=self.device, token=token,
                                    trust_remote_code=trust_remote_code, model_kwargs=model_kwargs)
        self._setup(tokenizer, lm, max_length=max_length, max_query_tokens=max_query_tokens, batch_size=batch_size,
                    max_batch_tokens=max_batch_tokens, relevance_tokens=relevance_tokens, calibration=calibration,
                    cache_size=cache_size, fast=fast, padding=padding, packing=packing,
                    prompt_layout=prompt_layout or models.prompt_layout(resolved, token), show_progress=show_progress)

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, **options: Any) -> ProRankScorer:
        """Wrap a model already in memory (tests, training loops): same prompt, same scoring function.

        The score cache is off unless ``cache_size`` is given, since a model in memory may still be changing; so is
        packing unless ``packing=True`` is given, since it switches the model's attention implementation (to SDPA
        that splits packed rows). With ``fast="int8"`` the given model itself is quantised, with ``fast="compile"``
        its blocks are compiled (no copy is made)."""
        options.setdefault("cache_size", 0)
        options.setdefault("packing", False)
        self = cls.__new__(cls)
        self.model_name = getattr(model.config, "_name_or_path", "in-memory")
        self.adapter = None
        param = next(model.parameters())
        self.device, self.dtype = str(param.device), param.dtype
        self._setup(tokenizer, model.eval(), **options)
        return self

    def _setup(self, tokenizer: Any, model: Any, *, max_length: int = 1024, max_query_tokens: int | None = None,
               batch_size: int = 16, max_batch_tokens: int | None = 16384,
               relevance_tokens: tuple[str, str] = RELEVANCE_TOKENS, calibration: Calibration | None = None,
               cache_size: int = 4096, fast: str | Sequence[str] | None = None, padding: bool | None = None,
               packing: bool | None = None, prompt_layout: str = "published", show_progress: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.fast = parse_fast(fast)
        self.padding = padding if padding is not None else not str(self.device).startswith("cpu")
        lm = _causal_lm(model)
        if packing and not supports_packing(lm):
            raise ValueError("packing needs a model with SDPA attention and no sliding-window layers; "
                             f"this one uses {lm.config._attn_implementation!r} attention")
        self.packing = packing if packing is not None else not self.padding and supports_packing(lm)
        if self.packing:
            enable_packing(lm)
        if "int8" in self.fast:
            if not str(self.device).startswith("cpu"):
                raise ValueError("fast mode 'int8' runs on CPU only; use bf16/fp16 on an accelerator")
            model = quantize_int8(model)
        if "compile" in self.fast:
            compile_blocks(model)
        self.tokenizer, self.model = tokenizer, model
        template = PromptTemplate.for_model(tokenizer, getattr(model.config, "model_type", None), prompt_layout)
        self.prompt_layout = prompt_layout
        self.prompt = ProRankPrompt(tokenizer, template, max_length=max_length, max_query_tokens=max_query_tokens,
                                    relevance_tokens=relevance_tokens)
        self.batch_size, self.max_batch_tokens = batch_size, max_batch_tokens
        self.calibration = calibration or Calibration()
        self.cache = ScoreCache(cache_size)
        self.show_progress = show_progress
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = pad if pad is not None else 0
        self._lock = threading.Lock()

    @property
    def max_length(self) -> int:
        return self.prompt.max_length

    def encode(self, query: str, documents: Sequence[str], instruction: str | None = None) -> list[list[int]]:
        return self.prompt.encode(query, list(documents), instruction)

    def score_ids(self, sequences: Sequence[Sequence[int]], batch_size: int | None = None) -> np.ndarray:
        """Scores of already-encoded sequences, computed in length-sorted batches, returned in input order.

        Sequences seen before (same token ids: same prompt, query, document and truncation) come from the score
        cache; only the others are run through the model."""
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        out = np.empty(len(sequences), dtype=np.float32)
        todo = self.cache.fill(sequences, out)
        if "prefix" in self.fast and not self.padding:  # one group per call: the shared prefix is computed once
            batches = [list(range(i, min(i + PREFIX_GROUP, len(todo)))) for i in range(0, len(todo), PREFIX_GROUP)]
        else:
            budget = min(self.max_batch_tokens or PACK_TOKENS, PACK_TOKENS) if self.packing else self.max_batch_tokens
            batches = plan_batches([len(sequences[i]) for i in todo], batch_size or self.batch_size, budget,
                                   self.padding, self.packing)
        iterator = batches
        if self.show_progress and len(batches) > 1:
            from tqdm.auto import tqdm

            iterator = tqdm(batches, desc="ProRank scoring", unit="batch")
        for batch in iterator:
            rows = [todo[i] for i in batch]
            out[rows] = self._forward([sequences[i] for i in rows])
        self.cache.store([sequences[i] for i in todo], out[todo])
        return out

    @torch.inference_mode()
    def _forward(self, sequences: list[Sequence[int]]) -> np.ndarray:
        """One batch through the model; on out-of-memory the batch is halved and retried (down to one pair)."""
        try:
            shared = 0
            if "prefix" in self.fast and len(sequences) > 1:
                shared = min(common_prefix_length(sequences), min(len(s) for s in sequences) - 1)
            with self._lock:
                if shared >= MIN_SHARED_PREFIX:
                    return relevance_scores_shared_prefix(self.model, sequences, shared, self.prompt.token_ids,
                                                          self.device, self.padding).cpu().numpy()
                if self.packing and len(sequences) > 1:
                    return relevance_scores_packed(self.model, sequences, self.prompt.token_ids,
                                                   self.device).cpu().numpy()
                ids, mask = left_pad(sequences, self.pad_id, self.device)
                return relevance_scores(self.model, ids, mask, self.prompt.token_ids).cpu().numpy()
        except (torch.OutOfMemoryError, MemoryError) as err:
            if len(sequences) == 1:
                raise
            half = len(sequences) // 2
            logger.warning("out of memory on a batch of %d (%s); retrying in halves", len(sequences), err)
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
            return np.concatenate([self._forward(sequences[:half]), self._forward(sequences[half:])])

    def score(self, query: str, documents: Sequence[str], *, instruction: str | None = None,
              batch_size: int | None = None) -> np.ndarray:
        """Raw scores ``logit("1") - logit("0")``, one per document, in the order given. Inputs are not mutated."""
        query, docs = _check_texts(query, documents)
        if not docs:
            return np.empty(0, dtype=np.float32)
        return self.score_ids(self.encode(query, docs, instruction), batch_size)

    def score_many(self, items: Sequence[tuple[str, Sequence[str]]], *, instruction: str | None = None,
                   batch_size: int | None = None) -> list[np.ndarray]:
        """Scores for many queries at once, batched across queries (benchmarks, offline reranking); in prefix mode
        batched per query, so that each batch shares its query's prefix."""
        encoded = [self.encode(*_check_texts(q, docs), instruction) for q, docs in items]
        if "prefix" in self.fast:
            return [self.score_ids(seqs, batch_size) if seqs else np.empty(0, dtype=np.float32) for seqs in encoded]
        flat = [seq for seqs in encoded for seq in seqs]
        scores = self.score_ids(flat, batch_size) if flat else np.empty(0, dtype=np.float32)
        bounds = np.cumsum([0] + [len(s) for s in encoded])
        return [scores[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def relevance(self, scores: np.ndarray) -> np.ndarray:
        """Normalised relevance in [0, 1]: the calibrated sigmoid of the raw scores."""
        return self.calibration(scores)

    @staticmethod
    def decide(scores: np.ndarray) -> np.ndarray:
        """The model's binary answer: 1 where it prefers "1" to "0" (raw score > 0)."""
        return (np.asarray(scores) > 0).astype(np.int64)

    def rank(self, query: str, documents: Sequence[str], top_k: int | None = None, *,
             instruction: str | None = None) -> list[tuple[int, float]]:
        """(index, score) pairs, best first; ties keep input order. ``top_k`` None keeps all."""
        if top_k is not None and top_k <= 0:
            raise ValueError(f"top_k must be a positive integer or None, got {top_k}")
        scores = self.score(query, documents, instruction=instruction)
        return [(i, float(scores[i])) for i in best_first(scores)[:top_k]]


def best_first(scores: Sequence[float] | np.ndarray) -> list[int]:
    """Indices of ``scores`` from best to worst; ties keep input order. Rank by raw scores: scaled ones (sigmoid)
    round to the same 1.0 for very confident documents."""
    return [int(i) for i in np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")]


_SHARED: dict[tuple, ProRankScorer] = {}
_SHARED_LOCK = threading.Lock()


_NOT_IN_KEY = ("token", "show_progress")
_DEFAULTS = {name: p.default for name, p in inspect.signature(ProRankScorer.__init__).parameters.items()
             if p.default is not inspect.Parameter.empty and name != "model"}


def _device_key(device: Any) -> str:
    """One name per device: None (auto), "cuda", "cuda:0" and torch.device("cuda") are the same engine's."""
    d = torch.device(device or auto_device())
    if d.type == "cuda" and d.index is None:
        d = torch.device("cuda", torch.cuda.current_device() if torch.cuda.is_available() else 0)
    return str(d)


def shared_scorer(model: str = models.DEFAULT_MODEL, **options: Any) -> ProRankScorer:
    """One engine per (model, settings) in a process: a Haystack ranker and a LlamaIndex postprocessor with the
    same settings load the weights once. The token (only used to download) is not part of the key; pass the
    batch size per call rather than here, so that components differing only in it share the engine too."""
    settings = {**_DEFAULTS, **options}
    settings["device"] = _device_key(settings["device"])
    key = (model, tuple(sorted((k, repr(v)) for k, v in settings.items() if k not in _NOT_IN_KEY)))
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = ProRankScorer(model, **options)
        return _SHARED[key]


def clear_shared_caches() -> None:
    """Empty the score caches of the shared engines (benchmarks timing each run from a cold cache)."""
    with _SHARED_LOCK:
        for scorer in _SHARED.values():
            scorer.cache = ScoreCache(scorer.cache.size)
