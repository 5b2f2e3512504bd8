"""Packed forward passes: several sequences of different lengths in one row, each attending only to itself.

On a CPU, padding a batch costs more than batching gains, and a batch of one sequence runs the matrix products on a
few hundred rows, below the matmul's best speed. Packing concatenates the sequences (no padding), so the linear
layers see about a thousand rows at once, while attention runs per sequence: the same computation as one sequence at a
time, so scores stay exact.

Attention is routed through an attention implementation registered with transformers (:data:`PACKED`) that splits
at the sequence boundaries when called with ``packed_lengths`` and is plain SDPA otherwise, so a model switched to
it behaves as before for every other caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

PACKED = "prorank_packed_sdpa"


def _packed_attention(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      attention_mask: torch.Tensor | None, *, packed_lengths: Sequence[int] | None = None,
                      **kwargs: Any) -> tuple[torch.Tensor, None]:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if packed_lengths is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    outputs, start = [], 0
    for length in packed_lengths:  # causal attention within each sequence, none across
        end = start + length
        out, _ = sdpa_attention_forward(module, query[:, :, start:end], key[:, :, start:end], value[:, :, start:end],
                                        None, is_causal=True, **kwargs)
        outputs.append(out)
        start = end
    return torch.cat(outputs, dim=1), None


def _register() -> None:
    """Make :data:`PACKED` known to transformers (idempotent); unpacked calls get SDPA's masks."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(PACKED, _packed_attention)
    AttentionMaskInterface.register(PACKED, sdpa_mask)


def _layer_kinds(config: Any) -> set[str]:
    """The attention kinds of a model's layers (configs without ``layer_types``, e.g. Llama's, are all full)."""
    return set(getattr(config, "layer_types", None) or ["full_attention"])


def supports_packing(lm: Any) -> bool:
    """Whether ``lm`` can run packed: its attention is SDPA (or this module's packed SDPA already) and it has no
    sliding-window layers (whose masks packing would bypass)."""
    return lm.config._attn_implementation in ("sdpa", PACKED) and _layer_kinds(lm.config) == {"full_attention"}


def enable_packing(lm: Any) -> None:
    """Switch ``lm``'s attention to :data:`PACKED` (SDPA for every call that does not pack)."""
    _register()
    if lm.config._attn_implementation != PACKED:
        lm.set_attn_implementation(PACKED)


def packed_last_hidden(decoder: Any, sequences: Sequence[Sequence[int]], device: Any = "cpu") -> torch.Tensor:
    """The final hidden state at the last token of each sequence, all sequences run as one packed row."""
    lengths = [len(s) for s in sequences]
    ids = torch.tensor([[t for s in sequences for t in s]], dtype=torch.long, device=device)
    positions = torch.cat([torch.arange(n, device=device) for n in lengths])[None]
    # the mask the model builds from these positions is not used: packed attention splits at ``packed_lengths``
    hidden = decoder(input_ids=ids, position_ids=positions, use_cache=False,
                     packed_lengths=lengths).last_hidden_state[0]
    ends = torch.tensor(lengths, device=device).cumsum(0) - 1
    return hidden[ends]
