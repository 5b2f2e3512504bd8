"""What letting the model build its causal mask costs a packed forward pass (packed attention does not use it):
mask construction for 4 packed pairs (1,024 tokens) against one packed forward of the 0.5B model, bf16.

    .venv/bin/python benchmarks/results/speed/packing/mask_cost.py > benchmarks/results/speed/packing/mask_cost.txt
"""
import time

import torch
from transformers import AutoModelForCausalLM
from transformers.masking_utils import create_causal_mask

from prorank_integrations.engine import models, packing

lm = AutoModelForCausalLM.from_pretrained(str(models.resolve("qwen2.5-coder-0.5b-instruct").base), dtype=torch.bfloat16)
packing.enable_packing(lm)
lengths = [300, 280, 250, 194]
positions = torch.cat([torch.arange(n) for n in lengths])[None]
embeds = torch.zeros(1, sum(lengths), lm.config.hidden_size, dtype=torch.bfloat16)
start = time.perf_counter()
for _ in range(20):
    mask = create_causal_mask(config=lm.config, inputs_embeds=embeds, attention_mask=None, cache=None,
                              position_ids=positions)
print("mask ms", (time.perf_counter() - start) / 20 * 1000, None if mask is None else tuple(mask.shape))
ids = torch.randint(100, 1000, (1, sum(lengths)))
with torch.inference_mode():
    start = time.perf_counter()
    lm.get_decoder()(input_ids=ids, position_ids=positions, use_cache=False, packed_lengths=lengths)
    print("forward ms", (time.perf_counter() - start) * 1000)
