"""Rebuild the committed demo/test sample (prorank_integrations/data/sample) from squadshifts-new-wiki.

Command: python benchmarks/make_sample.py  (needs `prorank data fetch squad` or the data in $PRORANK_HOME/data)
"""

import random

from prorank_integrations.bench.data import subset, write_beir
from prorank_integrations.bench.datasets import resolve_dataset
from prorank_integrations.bench.first_stage import BM25Retriever

ds = resolve_dataset("squadshifts-new-wiki")
bench = set(ds.sample_queries(200, seed=0))  # never show the benchmark's own questions in the demo
qids = random.Random(1).sample([q for q in ds.sample_queries(None) if q not in bench], 40)
hits = BM25Retriever(ds).search([ds.queries[q] for q in qids], k=10)
sub = subset(ds, qids, [d for row in hits for d, _ in row], name="sample")
write_beir(sub, "prorank_integrations/data/sample")
print(len(sub.corpus), "paragraphs,", len(sub.queries), "questions")
