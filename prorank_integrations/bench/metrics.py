"""Retrieval metrics with pytrec_eval: nDCG@10, MRR@10, Recall@10 and Recall@100, per query and averaged."""

from __future__ import annotations

from math import comb, log2

import numpy as np

MEASURES = ("ndcg@10", "mrr@10", "recall@10", "recall@100")


def evaluate_run(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per-query metrics of a run (query -> {doc: score}); queries without judgements are skipped."""
    import pytrec_eval

    judged = {q: rels for q, rels in qrels.items() if q in run}
    full = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10", "recall.10,100"})
    top10 = {q: dict(sorted(docs.items(), key=lambda kv: -kv[1])[:10]) for q, docs in run.items()}
    rr = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"})
    per_full, per_rr = full.evaluate(run), rr.evaluate(top10)
    return {
        q: {"ndcg@10": m["ndcg_cut_10"], "mrr@10": per_rr[q]["recip_rank"], "recall@10": m["recall_10"],
            "recall@100": m["recall_100"]}
        for q, m in per_full.items()
    }


def mean_metrics(per_query: dict[str, dict[str, float]]) -> dict[str, float]:
    return {m: float(np.mean([v[m] for v in per_query.values()])) if per_query else 0.0 for m in MEASURES}


def expected_random_order(qrels: dict[str, dict[str, int]], candidates: dict[str, list[str]]) -> dict[str, float]:
    """nDCG@10 and MRR@10 that a uniformly random order of each query's candidates scores on average (exact
    expectation, binary relevance): the floor a reranker must clear to have learned anything."""
    ndcg, mrr = [], []
    for qid, docs in candidates.items():
        relevant = {d for d, rel in qrels.get(qid, {}).items() if rel > 0}
        n, k = len(docs), len(relevant & set(docs))
        ideal = sum(1 / log2(p + 1) for p in range(1, min(len(relevant), 10) + 1))
        # every position holds a relevant document with probability k/n; the first one sits at p with
        # probability C(n-p, k-1) / C(n, k)
        ndcg.append(k / n * sum(1 / log2(p + 1) for p in range(1, min(n, 10) + 1)) / ideal if k else 0.0)
        mrr.append(sum(comb(n - p, k - 1) / comb(n, k) / p for p in range(1, min(n, 10) + 1)) if k else 0.0)
    return {"ndcg@10": float(np.mean(ndcg)), "mrr@10": float(np.mean(mrr))}
