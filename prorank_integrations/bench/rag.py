"""`prorank bench rag`: downstream RAG quality with RAGAS, through a real Haystack pipeline and a real LlamaIndex
query engine, for several rerankers.

Haystack:   InMemoryBM25Retriever -> ranker (ProRankRanker for prorank specs) -> RAG prompt -> chat generator
LlamaIndex: BM25Retriever -> node postprocessor (ProRankRerank for prorank specs) -> response synthesis (same LLM)

Without a judge LLM: RAGAS ``NonLLMContextPrecisionWithReference``, ``NonLLMContextRecall``, the id-based
context precision/recall against the gold paragraph, and ``ExactMatch``, ``StringPresence``, ``RougeScore``,
``NonLLMStringSimilarity`` of the answer against each gold answer (best over the gold answers). With a judge (see
:mod:`prorank_integrations.bench.judge`) also ``Faithfulness``, ``LLMContextPrecisionWithReference`` and
``ResponseRelevancy``; rows answered before a judge was given get its scores on the next run, without answering
again. Per-question rows are kept in ``<out>/<framework>/<label>.jsonl``, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from prorank_integrations.bench.data import BeirDataset
from prorank_integrations.bench.generation import Generator
from prorank_integrations.bench.rerankers import RerankerSpec
from prorank_integrations.bench.retrieval import environment
from prorank_integrations.bench.rows import bind, bound_rows
from prorank_integrations.engine.scorer import clear_shared_caches

CONTEXT_METRICS = ("non_llm_context_precision_with_reference", "non_llm_context_recall",
                   "id_based_context_precision", "id_based_context_recall")
ANSWER_METRICS = ("exact_match", "string_present", "rouge_score", "non_llm_string_similarity")
FRAMEWORKS = ("haystack", "llama_index")


def ragas_scores(question: str, answer: str, context_ids: list[str], contexts: list[str], gold_ids: list[str],
                 gold_contexts: list[str], gold_answers: list[str]) -> dict[str, float]:
    """RAGAS metrics of one answered question (no judge LLM)."""
    from ragas import SingleTurnSample
    from ragas.metrics import (
        ExactMatch,
        IDBasedContextPrecision,
        IDBasedContextRecall,
        NonLLMContextPrecisionWithReference,
        NonLLMContextRecall,
        NonLLMStringSimilarity,
        RougeScore,
        StringPresence,
    )

    sample = SingleTurnSample(user_input=question, response=answer, retrieved_contexts=contexts or [""],
                              reference_contexts=gold_contexts, retrieved_context_ids=context_ids or [""],
                              reference_context_ids=gold_ids)
    out = {m.name: float(m.single_turn_score(sample)) for m in (
        NonLLMContextPrecisionWithReference(), NonLLMContextRecall(), IDBasedContextPrecision(),
        IDBasedContextRecall())}
    answer_metrics = (ExactMatch(), StringPresence(), RougeScore(), NonLLMStringSimilarity())
    for m in answer_metrics:
        out[m.name] = max(float(m.single_turn_score(SingleTurnSample(user_input=question, response=answer,
                                                                     reference=ref))) for ref in gold_answers)
    return out


def _judge_missing(dataset: BeirDataset, rows: dict[str, dict], judge: Any, path: Path, progress: bool) -> None:
    """Add the judge's metrics to stored rows that lack them (answers are not regenerated); rewrites ``path``."""
    from prorank_integrations.bench.judge import JUDGE_METRICS

    todo = [q for q, r in rows.items() if any(m not in r for m in JUDGE_METRICS)]
    for qid in tqdm(todo, desc=f"judge {path.parent.name}/{path.stem}", unit="q", disable=not progress or not todo):
        row = rows[qid]
        gold = dataset.answers.get(qid) or [""]
        row.update(judge.score(dataset.queries[qid], row["answer"],
                               [dataset.doc_text(d) for d in row["context_ids"]], gold[0]))
        row["judge"] = judge.name
    if todo:
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows.values()))
        tmp.replace(path)


def _generator_text(generator: Generator) -> str:
    """The generator as recorded with its rows: greedy answers of one model differ between dtypes (bf16 on one
    machine, fp32 on another), so rows of another dtype are not reused."""
    return f"{generator.name} ({generator.precision})" if generator.precision else generator.name


def _means(rows: list[dict], metrics: tuple[str, ...]) -> tuple[dict[str, float], dict[str, int]]:
    """Mean of each metric over the rows where it is a number; NaN (unusable judge answers) counted apart."""
    means, failures = {}, {}
    for m in metrics:
        values = [r[m] for r in rows if m in r]
        if not values:
            continue
        usable = [v for v in values if v == v]
        means[m] = float(np.mean(usable)) if usable else float("nan")
        if len(usable) < len(values):
            failures[m] = len(values) - len(usable)
    return means, failures


def run_rag(dataset: BeirDataset, specs: list[RerankerSpec], generator: Generator, out: str | Path, *,
            queries: int = 100, seed: int = 0, depth: int = 20, k: int = 3,
            frameworks: tuple[str, ...] = FRAMEWORKS, judge: Any = None, progress: bool = True) -> dict:
    """Answer sampled questions through each framework x reranker; RAGAS metrics (judge metrics when a
    :class:`~prorank_integrations.bench.judge.Judge` is given); resumable; writes the report."""
    from prorank_integrations.bench.judge import JUDGE_METRICS

    out = Path(out)
    qids = dataset.sample_queries(queries, seed)
    env = environment()
    summary: dict[str, Any] = {"dataset": dataset.name, "n_queries": len(qids), "queries": len(qids), "seed": seed,
                               "first_stage": "bm25", "candidates": depth, "depth": depth, "k": k,
                               "generator": generator.name, "generator_dtype": generator.precision,
                               "judge": judge.name if judge else None,
                               "command": " ".join(sys.argv), "versions": env["versions"], "environment": env,
                               "results": {}}
    for framework in frameworks:
        for spec in specs:
            path = out / framework / spec.rows_file
            path.parent.mkdir(parents=True, exist_ok=True)
            settings = f"{spec.settings()} | generator={_generator_text(generator)} | depth={depth} | k={k}"
            done = bound_rows(path, settings)
            todo = [q for q in qids if q not in done]
            if todo:
                bind(path, settings)
                clear_shared_caches()  # each run's latency from a cold score cache, as a fresh session would see
                if framework == "haystack":
                    from prorank_integrations.bench.rag_haystack import HaystackRag as Rag
                else:
                    from prorank_integrations.bench.rag_llama_index import LlamaIndexRag as Rag
                rag = Rag(dataset, spec, generator, depth, k)
                with path.open("a") as f:
                    for qid in tqdm(todo, desc=f"{framework}/{spec.label}", unit="q", disable=not progress):
                        start = time.perf_counter()
                        answer, ids, texts = rag.answer(dataset.queries[qid])
                        seconds = time.perf_counter() - start
                        gold = [d for d in dataset.qrels[qid] if d in dataset.corpus]
                        row = {"qid": qid, "answer": answer, "context_ids": ids, "seconds": seconds,
                               **ragas_scores(dataset.queries[qid], answer, ids, texts, gold,
                                              [dataset.doc_text(d) for d in gold], dataset.answers.get(qid) or [""])}
                        f.write(json.dumps(row) + "\n")
                        f.flush()
                        done[qid] = row
            if judge is not None:
                _judge_missing(dataset, done, judge, path, progress)
            rows = [done[q] for q in qids]
            means, failures = _means(rows, CONTEXT_METRICS + ANSWER_METRICS + JUDGE_METRICS)
            summary["results"].setdefault(framework, {})[spec.label] = {
                "spec": spec.text, "seconds_per_question": float(np.mean([r["seconds"] for r in rows])),
                "ragas": means, "judge_failures": failures}
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    _write_rag_report(summary, out)
    return summary


def _write_rag_report(summary: dict, out: Path) -> None:
    from prorank_integrations.bench.judge import JUDGE_METRICS

    cols = ["id_based_context_recall", "non_llm_context_precision_with_reference", "exact_match", "string_present",
            "rouge_score", "non_llm_string_similarity"]
    cols += [m for m in JUDGE_METRICS if any(m in r["ragas"] for rows in summary["results"].values()
                                             for r in rows.values())]
    lines = [f"{summary['dataset']}: {summary['queries']} questions (seed {summary['seed']}), BM25 top-"
             f"{summary['depth']} -> reranker -> top-{summary['k']} contexts -> {summary['generator']}"
             + (f" ({summary['generator_dtype']})" if summary.get("generator_dtype") else "")
             + (f", judge {summary['judge']}" if summary["judge"] else "") + "\n",
             "| framework | reranker | " + " | ".join(cols) + " | s/question |", "|---|---|" + "---|" * (len(cols) + 1)]
    for framework, rows in summary["results"].items():
        for label, r in rows.items():
            cells = [f"{r['ragas'][c]:.3f}" if c in r["ragas"] else "-" for c in cols]
            lines.append(f"| {framework} | {label} | " + " | ".join(cells) + f" | {r['seconds_per_question']:.1f} |")
    failures = {f"{fw}/{label}": r["judge_failures"] for fw, rows in summary["results"].items()
                for label, r in rows.items() if r["judge_failures"]}
    if failures:
        lines.append(f"\nJudge answers RAGAS could not use (NaN, left out of the means): {failures}")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for framework, rows in summary["results"].items():
        for label, r in rows.items():
            y = r["ragas"]["string_present"]
            ax.scatter(r["seconds_per_question"], y, marker="o" if framework == "haystack" else "s")
            ax.annotate(f"{label} ({framework})", (r["seconds_per_question"], y),
                        textcoords="offset points", xytext=(5, 4), fontsize=7)
    ax.set_xlabel("seconds per question (retrieve + rerank + generate, this machine)")
    ax.set_ylabel("answer StringPresence (RAGAS)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "rag_quality_latency.png", dpi=120)
    plt.close(fig)
