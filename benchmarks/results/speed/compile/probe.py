"""A probe of ``torch.compile`` for exact mode: the packed engine as shipped against the same engine with each
layer's MLP and RMSNorms compiled by inductor (the small element-wise ops a profile shows around the matmuls:
``benchmarks/results/speed/profile/``); attention stays the packed SDPA, so packing needs no recompiles. Same
pairs, alternating repeats, scores compared (output: probe.txt). Run on an idle machine:

    .venv/bin/python benchmarks/results/speed/compile/probe.py > benchmarks/results/speed/compile/probe.txt
"""
import time

import numpy as np
import torch

from prorank_integrations import ProRankScorer
from prorank_integrations.bench.datasets import resolve_dataset
from prorank_integrations.bench.first_stage import BM25Retriever
from prorank_integrations.bench.retrieval import environment
from prorank_integrations.engine.scorer import _causal_lm

data = resolve_dataset("squadshifts-reddit")
qids = data.sample_queries(10, 0)
hits = BM25Retriever(data).search([data.queries[q] for q in qids], k=20)
plain = ProRankScorer("qwen2.5-coder-0.5b-instruct", max_length=512, cache_size=0)
compiled = ProRankScorer("qwen2.5-coder-0.5b-instruct", max_length=512, cache_size=0)
seqs = [ids for q, row in zip(qids, hits) for ids in plain.encode(data.queries[q], [data.doc_text(d) for d, _ in row])]
print(len(seqs), "pairs, tokens", sum(map(len, seqs)), plain.dtype, "packing", plain.packing)
print("cpu features:", environment()["cpu_features"])
for layer in _causal_lm(compiled.model).model.layers:
    for module in (layer.mlp, layer.input_layernorm, layer.post_attention_layernorm):
        module.compile(dynamic=True)
start = time.perf_counter()
reference = plain.score_ids(seqs)
first = compiled.score_ids(seqs)  # compiles here
print(f"first compiled pass (with compilation) {time.perf_counter() - start:.1f} s;"
      f" max abs diff to uncompiled {np.abs(first - reference).max():.4f}", flush=True)
rates: dict[str, list[float]] = {"exact": [], "exact+compile": []}
for repeat in range(3):
    for name, engine in (("exact", plain), ("exact+compile", compiled)):
        start = time.perf_counter()
        scores = engine.score_ids(seqs)
        rates[name].append(len(seqs) / (time.perf_counter() - start))
    print(repeat, {k: round(v[-1], 3) for k, v in rates.items()},
          f"max abs diff {np.abs(scores - reference).max():.4f}", flush=True)
median = {k: float(np.median(v)) for k, v in rates.items()}
print("median pairs/s", {k: round(v, 3) for k, v in median.items()},
      f"compiled / plain {median['exact+compile'] / median['exact']:.3f}")
print("torch", torch.__version__)
