"""Retrieval metrics with pytrec_eval: nDCG@10, MRR@10, Recall@10 and Recall@100, per query and averaged."""

from __future__ import annotations

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
