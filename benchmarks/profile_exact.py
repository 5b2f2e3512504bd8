"""Where exact-mode time goes: a torch profile of the engine scoring 12 real pairs (the first 6 BM25 candidates of
2 sampled squadshifts-reddit questions, after one warm-up query), by aten op. Run on an idle machine:

    .venv/bin/python benchmarks/profile_exact.py > benchmarks/results/speed/profile/profile.txt
"""
from torch.profiler import ProfilerActivity, profile

from prorank_integrations import ProRankScorer
from prorank_integrations.bench.datasets import resolve_dataset
from prorank_integrations.bench.first_stage import BM25Retriever

data = resolve_dataset("squadshifts-reddit")
qids = data.sample_queries(2, 0)
hits = BM25Retriever(data).search([data.queries[q] for q in qids], k=20)
items = [(data.queries[q], [data.doc_text(d) for d, _ in row][:6]) for q, row in zip(qids, hits)]
s = ProRankScorer("qwen2.5-coder-0.5b-instruct", max_length=512, cache_size=0)
s.score(*items[0])
with profile(activities=[ProfilerActivity.CPU]) as prof:
    for q, docs in items:
        s.score(q, docs)
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
