"""A probe of the packed batch size: the engine one sequence per forward pass against packed batches of up to
1024 and 2048 tokens, same pairs, alternating repeats (output: probe.txt). Run on an idle machine:

    .venv/bin/python benchmarks/results/speed/packing/probe.py
"""
import time

import numpy as np
import torch

from prorank_integrations import ProRankScorer
from prorank_integrations.bench.datasets import resolve_dataset
from prorank_integrations.bench.first_stage import BM25Retriever
from prorank_integrations.engine import packing
from prorank_integrations.engine.scorer import _causal_lm, plan_batches, relevance_scores_packed

data = resolve_dataset("squadshifts-reddit")
qids = data.sample_queries(4, 0)
hits = BM25Retriever(data).search([data.queries[q] for q in qids], k=20)
engine = ProRankScorer("qwen2.5-coder-0.5b-instruct", max_length=512, cache_size=0, packing=False)
seqs = [ids for q, row in zip(qids, hits) for ids in engine.encode(data.queries[q], [data.doc_text(d) for d, _ in row])]
print(len(seqs), "pairs, tokens", sum(map(len, seqs)), engine.dtype)
packing.enable_packing(_causal_lm(engine.model))  # SDPA for every call that does not pack: the unpacked row too


def packed(budget: int) -> np.ndarray:
    out = np.empty(len(seqs), np.float32)
    with torch.inference_mode():
        for batch in plan_batches([len(s) for s in seqs], len(seqs), budget, packing=True):
            out[batch] = relevance_scores_packed(engine.model, [seqs[i] for i in batch], engine.prompt.token_ids)
    return out


reference = engine.score_ids(seqs)
for repeat in range(3):
    start = time.perf_counter()
    engine.score_ids(seqs)
    result = {"exact": len(seqs) / (time.perf_counter() - start)}
    for budget in (1024, 2048):
        start = time.perf_counter()
        scores = packed(budget)
        result[f"packed-{budget}"] = len(seqs) / (time.perf_counter() - start)
        result[f"maxdiff-{budget}"] = float(np.abs(scores - reference).max())
    print(repeat, {k: round(v, 4) for k, v in result.items()}, flush=True)
