"""`prorank bench retrieval`: first stage once, then every reranker over the same candidates; nDCG@10, MRR@10,
Recall@10/100, latency; raw JSON per query and aggregated, a markdown table and a quality-vs-latency plot.

Per-query results are appended to ``<out>/<label>.jsonl`` as they are computed, so an interrupted run continues
where it stopped (a finished query is never recomputed).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections import Counter
from importlib import metadata
from pathlib import Path

from tqdm.auto import tqdm

from prorank_integrations.bench.data import BeirDataset
from prorank_integrations.bench.first_stage import first_stage as make_first_stage
from prorank_integrations.bench.metrics import MEASURES, evaluate_run, mean_metrics
from prorank_integrations.bench.rerankers import RerankerSpec, build_reranker, precision
from prorank_integrations.bench.rows import bind, bound_rows
from prorank_integrations.engine.scorer import best_first, cpu_flags

CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")  # what decides CPU speed and dtype="auto" here
VERSIONED = ("prorank-integrations", "torch", "transformers", "sentence-transformers", "haystack-ai",
             "llama-index-core", "ragas", "bm25s", "pytrec-eval-terrier", "peft", "trl")


def environment() -> dict[str, object]:
    """Versions and machine facts recorded with every result."""
    import os

    versions = {}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    flags = cpu_flags()
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "cpu_features": [f for f in CPU_FEATURES if f in flags], "versions": versions}


def candidates(dataset: BeirDataset, qids: list[str], stage: str, depth: int, out: Path) -> dict[str, list[str]]:
    """First-stage candidates per query, computed once and stored in ``<out>/candidates.json``."""
    path = out / "candidates.json"
    if path.exists():
        stored = json.loads(path.read_text())
        if stored["first_stage"] == stage and stored["depth"] == depth and set(qids) <= set(stored["run"]):
            return {q: stored["run"][q] for q in qids}
    hits = make_first_stage(stage, dataset).search([dataset.queries[q] for q in qids], k=depth)
    run = {q: [d for d, _ in row] for q, row in zip(qids, hits)}
    path.write_text(json.dumps({"first_stage": stage, "depth": depth, "run": run}))
    return run


def rerank_all(dataset: BeirDataset, cands: dict[str, list[str]], spec: RerankerSpec, out: Path,
               progress: bool = True) -> dict[str, dict]:
    """Score every query's candidates with one reranker; resumable through ``<out>/<label>.jsonl``."""
    path, settings = out / spec.rows_file, spec.settings()
    done = bound_rows(path, settings)
    stale = [q for q in cands if q in done and set(done[q]["ranking"]) != set(cands[q])]
    if stale:
        raise ValueError(f"{path} ranks other candidates than this run's for {len(stale)} question(s) (e.g. "
                         f"{stale[0]!r}): the first stage or depth changed; use another output or cache folder")
    todo = [q for q in cands if q not in done]
    if todo:
        reranker = build_reranker(spec)
        dtype = precision(reranker)
        bind(path, settings)
        with path.open("a") as f:
            for qid in tqdm(todo, desc=spec.label, unit="query", disable=not progress):
                texts = [dataset.doc_text(d) for d in cands[qid]]
                start = time.perf_counter()
                scores = reranker.score(dataset.queries[qid], texts)
                seconds = time.perf_counter() - start
                order = best_first(scores)
                row = {"qid": qid, "ranking": [cands[qid][i] for i in order],
                       "scores": [float(scores[i]) for i in order], "seconds": seconds, "pairs": len(texts)}
                if dtype:
                    row["dtype"] = dtype
                f.write(json.dumps(row) + "\n")
                f.flush()
                done[qid] = row
    return {q: done[q] for q in cands}


def summarise(dataset: BeirDataset, rows: dict[str, dict]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Metrics from the stored rankings (rank-based scores, so ties cannot be re-broken by the evaluator)."""
    run = {q: {d: float(len(r["ranking"]) - i) for i, d in enumerate(r["ranking"])} for q, r in rows.items()}
    per_query = evaluate_run(dataset.qrels, run)
    agg = mean_metrics(per_query)
    seconds = sum(r["seconds"] for r in rows.values())
    pairs = sum(r["pairs"] for r in rows.values())
    agg.update({"queries": len(rows), "latency_ms_per_query": 1000 * seconds / max(1, len(rows)),
                "pairs_per_s": pairs / seconds if seconds > 0 else None})
    dtypes = Counter(r["dtype"] for r in rows.values() if "dtype" in r)
    if dtypes:  # rows cached before the dtype was recorded count as "unrecorded"
        agg["dtypes"] = {**dtypes, **({"unrecorded": len(rows) - dtypes.total()} if dtypes.total() < len(rows) else {})}
    return agg, per_query


def write_report(summary: dict, out: Path) -> None:
    """``table.md`` and ``quality_latency.png`` from a summary."""
    rows = summary["rerankers"]
    header = ("| reranker | spec | nDCG@10 | MRR@10 | R@10 | R@100 | ms/query | pairs/s |\n"
              "|---|---|---|---|---|---|---|---|\n")
    lines = []
    for label, r in rows.items():
        pps = f"{r['pairs_per_s']:.2f}" if r.get("pairs_per_s") and r["pairs_per_s"] < 1e5 else "-"
        lines.append(f"| {label} | `{r['spec']}` | {r['ndcg@10']:.3f} | {r['mrr@10']:.3f} | {r['recall@10']:.3f} | "
                     f"{r['recall@100']:.3f} | {r['latency_ms_per_query']:.0f} | {pps} |")
    title = (f"{summary['dataset']}: {summary['queries']} questions (seed {summary['seed']}), "
             f"{summary['first_stage']} top-{summary['depth']} reranked\n\n")
    mixed = {label: r["dtypes"] for label, r in rows.items() if len(r.get("dtypes", {})) > 1}
    note = "".join(f"\n{label} mixes dtypes across questions: "
                   + ", ".join(f"{d} {n}" for d, n in dtypes.items()) + "\n" for label, dtypes in mixed.items())
    (out / "table.md").write_text(title + header + "\n".join(lines) + "\n" + note)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for label, r in rows.items():
        x = max(r["latency_ms_per_query"], 0.1)
        ax.scatter(x, r["ndcg@10"], s=40)
        ax.annotate(label, (x, r["ndcg@10"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("reranking latency per query (ms, log scale, this machine)")
    ax.set_ylabel("nDCG@10")
    ax.set_title(f"{summary['dataset']}, {summary['queries']} q, {summary['first_stage']} top-{summary['depth']}",
                 fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "quality_latency.png", dpi=120)
    plt.close(fig)


def run_retrieval(dataset: BeirDataset, specs: list[RerankerSpec], out: str | Path, *, queries: int | None = 200,
                  seed: int = 0, first_stage: str = "bm25", depth: int = 20, subset: int | None = None,
                  cache_dir: str | Path | None = None, cached_only: bool = False, progress: bool = True) -> dict:
    """Run (or resume) the benchmark and write ``summary.json``, ``per_query.json``, ``table.md`` and the plot.

    ``subset`` limits the run to the first N sampled questions; ``cache_dir`` (default ``out``) holds the
    candidates and per-query rows, so a subset summary reuses a larger run's work. ``cached_only`` reports only
    the rerankers whose cache already covers every question (listing the others under ``"incomplete"``), so a
    summary can be written while longer runs are still going."""
    out, cache = Path(out), Path(cache_dir or out)
    out.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    qids = dataset.sample_queries(queries, seed)[:subset] if subset else dataset.sample_queries(queries, seed)
    cands = candidates(dataset, qids, first_stage, depth, cache)
    env = environment()
    summary = {"dataset": dataset.name, "n_queries": len(qids), "queries": len(qids), "sample": queries,
               "seed": seed, "first_stage": first_stage, "candidates": depth, "depth": depth,
               "command": " ".join(sys.argv), "versions": env["versions"], "environment": env,
               "measures": list(MEASURES), "results": {}, "rerankers": {}, "incomplete": []}
    per_query_all = {}
    for spec in specs:
        if cached_only and not set(cands) <= set(bound_rows(cache / spec.rows_file, spec.settings())):
            summary["incomplete"].append(spec.label)
            continue
        rows = rerank_all(dataset, cands, spec, cache, progress)
        agg, per_query = summarise(dataset, rows)
        summary["rerankers"][spec.label] = {"spec": spec.text, **agg}
        summary["results"][spec.label] = {"ndcg@10": agg["ndcg@10"], "mrr@10": agg["mrr@10"],
                                          "recall@10": agg["recall@10"], "ms_per_query": agg["latency_ms_per_query"],
                                          "pairs_per_s": agg["pairs_per_s"]}
        per_query_all[spec.label] = per_query
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "per_query.json").write_text(json.dumps(per_query_all) + "\n")
    write_report(summary, out)
    return summary
