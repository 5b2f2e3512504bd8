"""`prorank rerank-run`: rerank a first-stage run (TREC run file or JSONL) for a BEIR-layout data set and write a TREC
run with ProRank scores, in process or on a Ray cluster (Ray Data ``map_batches`` over an actor pool, one engine per
actor, one GPU per actor where GPUs exist, whole queries per batch).

Finished queries are appended to ``<out>.progress.jsonl`` as they complete; a rerun skips them, and the TREC file is
written from that record at the end, every (query, document) exactly once. ``<out>.progress.spec`` records the model
and engine settings the record was computed with: resuming with other settings, or with other candidates for a
finished query, is an error, never a mix.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prorank_integrations.bench.data import BeirDataset
from prorank_integrations.engine.scorer import best_first


def read_run(path: str | Path, depth: int | None = None) -> dict[str, list[str]]:
    """Candidates per query from a TREC run (``qid Q0 doc rank score tag``, ordered by score) or JSONL
    (``{"qid": ..., "candidates": [doc ids]}``), first-stage order kept, cut at ``depth``."""
    path = Path(path)
    run: dict[str, list[tuple[float, str]]] = {}
    ordered: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            if line.lstrip().startswith("{"):
                row = json.loads(line)
                ordered[str(row["qid"])] = [str(d) for d in row["candidates"]]
                continue
            parts = line.split()
            if len(parts) != 6:
                raise ValueError(f"{path}:{n}: expected 'qid Q0 doc rank score tag', got {line.strip()!r}")
            run.setdefault(parts[0], []).append((-float(parts[4]), parts[2]))
    for qid, rows in run.items():
        ordered[qid] = [d for _, d in sorted(rows, key=lambda r: r[0])]
    repeated = {q: len(docs) - len(set(docs)) for q, docs in ordered.items() if len(set(docs)) < len(docs)}
    if repeated:  # each (query, document) is scored and written once, at its first (best) first-stage position
        warnings.warn(f"{path}: {sum(repeated.values())} repeated (query, document) entries in {len(repeated)} "
                      f"queries (e.g. {next(iter(repeated))!r}) are kept once, at their best position", stacklevel=2)
        ordered = {q: list(dict.fromkeys(docs)) for q, docs in ordered.items()}
    return {q: docs[:depth] if depth else docs for q, docs in ordered.items()}


def _progress_path(out: Path) -> Path:
    return out.with_name(out.name + ".progress.jsonl")


def _claim(out: Path, model: str, options: dict[str, Any], run: dict[str, list[str]]) -> dict[str, dict]:
    """The finished queries of ``out``'s progress record, after checking they were computed with these settings
    and candidates; then binds the record to these settings."""
    from prorank_integrations.bench.rerankers import adapter_digest

    digest = adapter_digest(model, options.get("adapter"))
    settings = json.dumps({"model": model, **options, **({"adapter_sha256": digest} if digest else {})},
                          sort_keys=True, default=str)
    spec = out.with_name(out.name + ".progress.spec")
    done = _finished(out)
    if spec.exists() and spec.read_text().strip() != settings:
        raise ValueError(f"{_progress_path(out)} was computed with {spec.read_text().strip()}, not {settings}; "
                         "write to another --out or delete the record to start over")
    stale = [q for q in run if q in done and set(done[q]["doc_ids"]) != set(run[q])]
    if stale:
        raise ValueError(f"{_progress_path(out)} scored other candidates for {len(stale)} query(ies) (e.g. "
                         f"{stale[0]!r}) than this run gives; write to another --out")
    spec.write_text(settings + "\n")
    return done


def _finished(out: Path) -> dict[str, dict]:
    path = _progress_path(out)
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut by an interruption: that query is recomputed
                continue
            done[row["qid"]] = row
    return done


def _items(dataset: BeirDataset, run: dict[str, list[str]], skip: set[str]) -> Iterator[dict[str, Any]]:
    for qid, docs in run.items():
        if qid in skip:
            continue
        if qid not in dataset.queries:
            raise KeyError(f"query {qid!r} of the run is not in {dataset.name}'s queries")
        missing = [d for d in docs if d not in dataset.corpus]
        if missing:
            raise KeyError(f"query {qid!r}: documents {missing[:3]} are not in {dataset.name}'s corpus")
        yield {"qid": qid, "query": dataset.queries[qid], "doc_ids": docs, "texts": [dataset.doc_text(d) for d in docs]}


class ScoreQueries:
    """Callable over a batch of whole queries: the unit a Ray actor holds (one engine each)."""

    def __init__(self, model: str, engine_options: dict[str, Any]) -> None:
        from prorank_integrations.engine.scorer import ProRankScorer

        self.engine = ProRankScorer(model, **engine_options)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        items = list(zip(batch["query"], batch["texts"]))
        scores = self.engine.score_many([(q, list(t)) for q, t in items])
        return {"qid": list(batch["qid"]), "doc_ids": [list(d) for d in batch["doc_ids"]],
                "scores": [s.tolist() for s in scores]}


def _append(out: Path, rows: list[dict]) -> None:
    with _progress_path(out).open("a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
        f.flush()


def write_trec(done: dict[str, dict], run: dict[str, list[str]], out: Path, tag: str) -> None:
    with out.open("w") as f:
        for qid in run:
            row = done[qid]
            for rank, i in enumerate(best_first(row["scores"]), 1):
                f.write(f"{qid} Q0 {row['doc_ids'][i]} {rank} {row['scores'][i]:.6f} {tag}\n")


def rerank_run(dataset: BeirDataset, run: dict[str, list[str]], model: str, out: str | Path, *,
               engine_options: dict[str, Any] | None = None, ray_address: str | None = None, use_ray: bool = False,
               actors: int = 1, queries_per_batch: int = 4, tag: str = "prorank",
               scorer_cls: type[ScoreQueries] = ScoreQueries) -> Path:
    """Rerank every query of ``run`` and write ``out`` (TREC). Resumes from ``<out>.progress.jsonl``.

    ``scorer_cls`` is what each worker runs (a subclass can add set-up, logging or fault injection)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    options = engine_options or {}
    done = _claim(out, model, options, run)
    todo = list(_items(dataset, run, set(done)))
    if todo and not use_ray:
        scorer = scorer_cls(model, options)
        for start in range(0, len(todo), queries_per_batch):
            chunk = todo[start:start + queries_per_batch]
            result = scorer({k: [row[k] for row in chunk] for k in ("qid", "query", "doc_ids", "texts")})
            rows = [dict(zip(result, vals)) for vals in zip(*result.values())]
            _append(out, rows)
            done.update({r["qid"]: r for r in rows})
    elif todo:
        for row in _ray_score(todo, scorer_cls, model, options, ray_address, actors, queries_per_batch):
            if row["qid"] not in done:  # a retried batch may repeat a query: keep each once
                _append(out, [row])
                done[row["qid"]] = row
    write_trec(done, run, out, tag)
    return out


def _ray_score(todo: list[dict], scorer_cls: type[ScoreQueries], model: str, options: dict[str, Any],
               address: str | None, actors: int, queries_per_batch: int) -> Iterator[dict]:
    """Ray Data over an actor pool; actors that die are restarted and their batches retried."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, configure_logging=False)
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    ds = ray.data.from_items(todo).map_batches(
        scorer_cls, fn_constructor_kwargs={"model": model, "engine_options": options},
        batch_size=queries_per_batch, compute=ray.data.ActorPoolStrategy(size=actors), num_gpus=gpus,
        max_restarts=-1, max_task_retries=-1)
    for row in ds.iter_rows():
        yield {"qid": row["qid"], "doc_ids": list(row["doc_ids"]), "scores": list(row["scores"])}
