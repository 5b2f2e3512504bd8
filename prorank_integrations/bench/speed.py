"""`prorank bench speed`: ProRank scoring implementations side by side on the same weights, pairs and settings.

Rows (labels as in the results convention): ``naive`` (transformers, batch 1, full forward), ``sentence-transformers``
(CrossEncoder as a causal-LM reranker), ``mxbai-rerank`` (the authors' package, if it runs), ``exact`` (the
engine; on a CPU it packs sequences, and ``exact-unpacked`` runs it one sequence per forward pass) and
``fast-<mode>`` (the engine with speed modes, e.g. ``fast-prefix``, ``fast-prefix+int8``; ``fast-prefix+<layout>`` runs
prefix mode on another prompt layout, e.g. ``query-first``, for models trained with it: its scores are of another
prompt, so they are not compared with the others, and its quality is measured on a model trained with that layout).
Each implementation scores the same queries' candidate lists several times, alternating implementations within each
repeat; the median pairs/s is reported with its ratio to the sentence-transformers peer, the largest score
difference, queries ranked identically and Kendall tau against ``naive`` and ``exact`` (and, with
``reference_dtype``, against an untimed naive pass in that dtype, usually fp32: the truth that bf16 rows are judged
against), the model FLOP/s (2 x non-embedding parameters x tokens / s) and its fraction of the bf16 matmul peak
measured in the same process. A row whose first repeat takes more than three times the engine's is not repeated
(its ``seconds_all`` shows it). Peak memory is measured in a fresh process that does nothing but load the engine
and score the same pairs; the score cache on a repeat pattern of requests.
"""

from __future__ import annotations

import json
import random
import resource
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prorank_integrations.bench.retrieval import environment
from prorank_integrations.engine.prompt import ProRankPrompt
from prorank_integrations.engine.scorer import ProRankScorer, ScoreCache, parse_fast


def non_embedding_parameters(model: Any) -> int:
    """Parameters that take part in every token's matmuls (embeddings and the unused output head excluded)."""
    decoder = model.get_decoder()
    return sum(p.numel() for n, p in decoder.named_parameters() if "embed_tokens" not in n)


def matmul_peak(model: Any, dtype: torch.dtype, tokens: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of torch matmuls at this model's MLP shapes (tokens x hidden @ hidden x intermediate)."""
    cfg = model.config
    a = torch.randn(tokens, cfg.hidden_size, dtype=dtype)
    b = torch.randn(cfg.hidden_size, cfg.intermediate_size, dtype=dtype)
    torch.matmul(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - start)
    return 2 * tokens * cfg.hidden_size * cfg.intermediate_size / min(times)


def _agreement(a: np.ndarray, b: np.ndarray) -> bool:
    return list(np.argsort(-a, kind="stable")) == list(np.argsort(-b, kind="stable"))


def _compare(row: dict, name: str, scores: list[np.ndarray], reference: list[np.ndarray]) -> None:
    """Largest score difference, queries ranked identically and mean Kendall tau of ``scores`` against ``reference``."""
    from scipy.stats import kendalltau

    row[f"max_abs_diff_vs_{name}"] = max(float(np.abs(a - b).max()) for a, b in zip(scores, reference) if len(a))
    row[f"rankings_identical_to_{name}"] = sum(_agreement(a, b) for a, b in zip(scores, reference))
    taus = [kendalltau(a, b).statistic for a, b in zip(scores, reference) if len(a) > 1]
    row[f"kendall_tau_vs_{name}"] = float(np.mean(taus)) if taus else None


MEMORY_PROBE_QUERIES = 2


def fast_label(mode: str) -> str:
    """``"prefix,int8"`` -> ``"fast-prefix+int8"``: the results label of a speed mode."""
    return "fast-" + "+".join(parse_fast(mode))


def fast_engine(engine: ProRankScorer, model_path: str, mode: str, batch_size: int,
                prompt_layout: str = "published") -> ProRankScorer:
    """The engine with speed modes: sharing the exact engine's weights unless the mode changes its modules (int8
    replaces the linear layers, compile wraps the MLPs and norms)."""
    if "int8" in mode or "compile" in mode:
        return ProRankScorer(model_path, adapter=engine.adapter, device="cpu", dtype=engine.dtype,
                             max_length=engine.max_length, batch_size=batch_size, cache_size=0, fast=mode,
                             prompt_layout=prompt_layout)
    return ProRankScorer.from_model(engine.model, engine.tokenizer, max_length=engine.max_length,
                                    batch_size=batch_size, fast=mode, prompt_layout=prompt_layout)


def layout_row(spec: str) -> tuple[str, str, str]:
    """``"query-first"`` (prefix mode) or ``"query-first:prefix,compile"`` -> (results label, layout, speed modes),
    e.g. ``"fast-prefix+compile+query-first"``."""
    layout, _, mode = spec.partition(":")
    mode = mode or "prefix"
    return f"{fast_label(mode)}+{layout}", layout, mode


def _probe_rss(model: str, adapter: str | None, dtype: torch.dtype, max_length: int, batch_size: int, fast: str | None,
               items: list[tuple[str, list[str]]]) -> float:
    engine = ProRankScorer(model, adapter=adapter, dtype=dtype, max_length=max_length, batch_size=batch_size,
                           cache_size=0, fast=fast)
    for query, texts in items:
        engine.score(query, texts)
    return _peak_rss_of_this_process()


def _peak_rss_of_this_process() -> float:
    """VmHWM (MB): the peak of this process image. ``ru_maxrss`` would do on macOS, but on Linux it survives
    ``exec`` and so reports the spawning parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def peak_rss_mb(model: str, items: list[tuple[str, list[str]]], *, adapter: str | None = None,
                dtype: str | torch.dtype = "auto",
                max_length: int = 512, batch_size: int = 16, fast: str | None = None) -> float:
    """Peak RSS (MB) of a fresh process that loads the engine and scores ``items``: what a user's process costs."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_probe_rss, model, adapter, dtype, max_length, batch_size, fast, items).result()


def cache_session(engine: ProRankScorer, items: list[tuple[str, list[str]]], requests: int, seed: int = 0,
                  out: str | Path | None = None) -> dict:
    """A RAG session's repeat pattern: ``requests`` questions drawn with Zipf-like popularity (weight 1/rank)
    from ``items`` (re-asked and regenerated questions retrieve the same candidates), scored once with the score
    cache and once without it; seconds, hits and misses of each."""
    rng = random.Random(seed)
    stream = rng.choices(range(len(items)), weights=[1 / (r + 1) for r in range(len(items))], k=requests)
    result = {"requests": requests, "distinct_questions": len(set(stream)), "seed": seed}
    kept = engine.cache
    for label, cache_size in (("without_cache", 0), ("with_cache", 4096)):
        engine.cache = ScoreCache(cache_size)
        start = time.perf_counter()
        for i in stream:
            engine.score(*items[i])
        result[label] = {"seconds": time.perf_counter() - start, "hits": engine.cache.hits,
                         "misses": engine.cache.misses if cache_size else sum(len(items[i][1]) for i in stream)}
    engine.cache = kept
    result["speedup"] = result["without_cache"]["seconds"] / result["with_cache"]["seconds"]
    if out is not None:
        (Path(out) / "score_cache.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def run_speed(engine: ProRankScorer, model_path: str, items: list[tuple[str, list[str]]], out: str | Path, *,
              repeats: int = 3, peers: tuple[str, ...] = ("naive", "sentence-transformers", "mxbai-rerank"),
              fast_modes: tuple[str, ...] = (), layouts: tuple[str, ...] = (), batch_size: int = 16,
              memory: bool = False, reference_dtype: str | None = None) -> dict:
    """Time every implementation on ``items`` (query, candidate texts) and write ``summary.json``, ``table.md`` and
    every row's scores (``scores.json``)."""
    from prorank_integrations.bench.peers import MxbaiPeer, NaivePeer, SentenceTransformersPeer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    impls: dict[str, Any] = {"exact": engine}
    if engine.packing:  # the default on CPU, timed against one sequence per forward pass, on the same weights
        impls["exact-unpacked"] = ProRankScorer.from_model(engine.model, engine.tokenizer, max_length=engine.max_length,
                                                           batch_size=batch_size, packing=False)
    for mode in fast_modes:
        impls[fast_label(mode)] = fast_engine(engine, model_path, mode, batch_size)
    other_prompt = [label for label, *_ in map(layout_row, layouts)]  # scores not comparable with the published prompt
    for label, layout, mode in map(layout_row, layouts):
        impls[label] = fast_engine(engine, model_path, mode, batch_size, prompt_layout=layout)
    errors: dict[str, str] = {}
    makers = {"naive": lambda: NaivePeer(engine),
              "sentence-transformers": lambda: SentenceTransformersPeer(model_path, engine, batch_size),
              "mxbai-rerank": lambda: MxbaiPeer(model_path, engine, batch_size)}
    for name in peers:
        try:
            impls[name] = makers[name]()
        except (ImportError, RuntimeError, AttributeError, OSError) as err:
            errors[name] = f"{type(err).__name__}: {err}"
    engine.cache.size = 0  # timing is about computing scores, not remembering them
    pairs = sum(len(t) for _, t in items)
    tokens = sum(len(ids) for q, t in items for ids in engine.encode(q, t))
    for impl in impls.values():  # one-time costs (compilation, lazy initialisation) are not part of the timing
        impl.score(*items[0])
    times: dict[str, list[float]] = {name: [] for name in impls}
    scores: dict[str, list[np.ndarray]] = {}
    for repeat in range(repeats):
        for name, impl in impls.items():  # alternating, so drifts in machine load hit every row alike
            if repeat and times[name][0] > 3 * times["exact"][0]:
                continue
            start = time.perf_counter()
            result = [impl.score(q, t) for q, t in items]
            times[name].append(time.perf_counter() - start)
            scores[name] = result
    references = {"naive": scores.get("naive"), "exact": scores["exact"]}
    if reference_dtype:  # computed once, after the timings, so that its memory does not weigh on them
        ref_engine = ProRankScorer(model_path, adapter=engine.adapter, dtype=reference_dtype, device="cpu",
                                   max_length=engine.max_length, cache_size=0)
        ref_label = f"naive-{reference_dtype}"
        references[ref_label] = scores[ref_label] = [NaivePeer(ref_engine).score(q, t) for q, t in items]
        del ref_engine
    params = non_embedding_parameters(engine.model)
    peak = matmul_peak(engine.model, engine.dtype)
    rows = {}
    for name, ts in times.items():
        seconds = statistics.median(ts)
        row = {"pairs_per_s": pairs / seconds, "seconds_median": seconds, "seconds_all": ts,
               "model_flops_per_s": 2 * params * tokens / seconds}
        row["fraction_of_matmul_peak"] = row["model_flops_per_s"] / peak
        for ref_name, reference in references.items():
            if reference is not None and name not in other_prompt:
                _compare(row, ref_name, scores[name], reference)
        rows[name] = row
    st = rows.get("sentence-transformers")
    for row in rows.values():
        row["ratio_to_sentence_transformers"] = row["pairs_per_s"] / st["pairs_per_s"] if st else None
    env = environment()
    summary = {"model": engine.model_name, "dtype": str(engine.dtype), "max_length": engine.max_length,
               "n_queries": len(items), "queries": len(items), "pairs": pairs, "tokens": tokens, "repeats": repeats,
               "non_embedding_parameters": params, "matmul_peak_flops_per_s": peak,
               "benchmark_process_peak_rss_mb": _peak_rss_of_this_process(),
               "command": " ".join(sys.argv), "versions": env["versions"], "environment": env,
               "unavailable": errors, "results": rows, "rerankers": rows}
    if memory:  # the first queries' pairs fill full batches: the peak does not grow with more of them
        probe = items[:MEMORY_PROBE_QUERIES]
        summary["memory_probe_pairs"] = sum(len(t) for _, t in probe)
        summary["engine_peak_rss_mb"] = {
            label: peak_rss_mb(model_path, probe, adapter=engine.adapter, dtype=engine.dtype,
                               max_length=engine.max_length, batch_size=batch_size, fast=mode)
            for label, mode in [("exact", None)] + [(fast_label(m), m) for m in fast_modes]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "scores.json").write_text(json.dumps(
        {"queries": [q for q, _ in items], "scores": {n: [a.tolist() for a in s] for n, s in scores.items()}}) + "\n")
    compared = [n for n, ref in references.items() if ref is not None]
    head = "".join(f" max abs diff vs {n} | same ranking as {n} | Kendall tau vs {n} |" for n in compared)
    lines = [f"{summary['model']} ({summary['dtype']}, max_length {summary['max_length']}): {pairs} pairs of "
             f"{len(items)} queries, median of {repeats}\n",
             f"| implementation | pairs/s | x sentence-transformers |{head} model TFLOP/s | of matmul peak |",
             "|---" * (5 + 3 * len(compared)) + "|"]
    for name, r in rows.items():
        ratio = f"{r['ratio_to_sentence_transformers']:.2f}" if r["ratio_to_sentence_transformers"] else "-"
        cells = "".join(f" {r[f'max_abs_diff_vs_{n}']:.4f} | {r[f'rankings_identical_to_{n}']}/{len(items)} | "
                        f"{r[f'kendall_tau_vs_{n}']:.3f} |" if name not in other_prompt else " - | - | - |"
                        for n in compared)
        lines.append(f"| {name} | {r['pairs_per_s']:.2f} | {ratio} |{cells} "
                     f"{r['model_flops_per_s'] / 1e12:.3f} | {r['fraction_of_matmul_peak']:.0%} |")
    for name, err in errors.items():
        lines.append(f"\n`{name}` did not run: {err}")
    for name, mb in summary.get("engine_peak_rss_mb", {}).items():
        lines.append(f"\nPeak RSS of a process scoring these pairs with `{name}`: {mb:.0f} MB")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    return summary


def scaling_curves(engine: ProRankScorer, texts: list[str], query: str, out: str | Path, *,
                   counts: tuple[int, ...] = (10, 30, 100, 300, 1000),
                   lengths: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048), docs_per_length: int = 8) -> dict:
    """Seconds to score n documents (real paragraphs, reused in turn) and documents of a given token length
    (paragraphs joined and cut to that length); written to ``scaling.json`` and ``scaling.png``."""
    out = Path(out)
    engine.cache.size = 0
    by_count = {}
    for n in counts:
        docs = [texts[i % len(texts)] for i in range(n)]
        start = time.perf_counter()
        engine.score(query, docs)
        by_count[n] = time.perf_counter() - start
    joined = engine.tokenizer(" ".join(texts), add_special_tokens=False)["input_ids"]
    by_length = {}
    for length in lengths:  # a prompt long enough that these documents are not cut
        prompt = ProRankPrompt(engine.tokenizer, engine.prompt.template,
                               max_length=length + engine.prompt.static_length + 64)
        docs = [engine.tokenizer.decode(joined[i * length:(i + 1) * length]) for i in range(docs_per_length)]
        start = time.perf_counter()
        engine.score_ids(prompt.encode(query, docs))
        by_length[length] = time.perf_counter() - start
    result = {"seconds_by_documents": by_count, "seconds_by_document_tokens": by_length,
              "docs_per_length": docs_per_length}
    (out / "scaling.json").write_text(json.dumps(result, indent=2) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(list(by_count), list(by_count.values()), marker="o")
    a.set(xscale="log", yscale="log", xlabel="documents per query", ylabel="seconds", title="time vs documents")
    b.plot(list(by_length), list(by_length.values()), marker="o")
    b.set(xscale="log", yscale="log", xlabel="document tokens", ylabel=f"seconds for {docs_per_length} documents",
          title="time vs document length")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "scaling.png", dpi=120)
    plt.close(fig)
    return result
