"""``prorank``: the command line. Argument parsing only; the work happens in the modules it calls."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def _cmd_models_list(args: argparse.Namespace) -> int:
    from prorank_integrations.engine import assets, models

    rows = []
    for name in models.catalogue_names():
        asset = assets.CATALOGUE.get(name)
        if asset is not None:
            state = "fetched" if assets.is_fetched(name) else f"not fetched ({asset.size_mb} MB)"
            rows.append({"name": name, "status": state, "description": asset.description})
        else:
            rows.append({"name": name, "status": "bundled adapter", "description": "trained by this project"})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            print(f"{r['name']:<{width}}  {r['status']:<24}  {r['description']}")
        print(f"\ncache: {assets.home()}  (set PRORANK_HOME to move it)")
    return 0


def _cmd_models_fetch(args: argparse.Namespace) -> int:
    from prorank_integrations.engine import assets

    for name in args.names:
        path = assets.fetch(name, progress=not args.quiet, force=args.force)
        print(path)
    return 0


def _read_documents(args: argparse.Namespace) -> list[str]:
    """Documents from arguments, or JSON lines (a string, or an object with ``text``/``content``) on a file/stdin."""
    if args.documents:
        return list(args.documents)
    stream = open(args.jsonl, encoding="utf-8") if args.jsonl and args.jsonl != "-" else sys.stdin
    docs = []
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        item = json.loads(line)
        if isinstance(item, dict):
            item = item.get("text", item.get("content"))
        if not isinstance(item, str):
            raise SystemExit(f"line {n}: expected a JSON string or an object with a 'text' field")
        docs.append(item)
    return docs


def _cmd_rank(args: argparse.Namespace) -> int:
    from prorank_integrations.engine.scorer import ProRankScorer

    docs = _read_documents(args)
    scorer = ProRankScorer(args.model, adapter=args.adapter, device=args.device, dtype=args.dtype,
                           max_length=args.max_length, batch_size=args.batch_size)
    ranked = scorer.rank(args.query, docs, top_k=args.top_k, instruction=args.instruction)
    relevance = scorer.relevance([s for _, s in ranked]) if ranked else []
    out = [{"rank": r + 1, "index": i, "score": s, "relevance": float(p), "document": docs[i]}
           for r, ((i, s), p) in enumerate(zip(ranked, relevance))]
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from prorank_integrations.training.config import TrainConfig

    overrides = {k: getattr(args, k) for k in ("output_dir", "base_model", "init_adapter", "max_groups", "data")}
    cfg = TrainConfig.load(args.config, **overrides)
    if args.stage == "warmup":
        from prorank_integrations.training.warmup import train_warmup

        print(train_warmup(cfg))
    elif args.stage == "cross-encoder":
        from prorank_integrations.training.cross_encoder import train_cross_encoder

        print(train_cross_encoder(cfg))
    else:
        from prorank_integrations.training.score import train_score

        print(train_score(cfg))
    return 0


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    from prorank_integrations.bench.squad import fetch_squad

    for name, path in fetch_squad(args.source, force=args.force).items():
        print(f"{name}: {path}")
    return 0


def _cmd_bench_retrieval(args: argparse.Namespace) -> int:
    from prorank_integrations.bench.datasets import resolve_dataset
    from prorank_integrations.bench.rerankers import RerankerSpec
    from prorank_integrations.bench.retrieval import run_retrieval

    specs = [RerankerSpec.parse(s) for s in args.reranker]
    summary = run_retrieval(resolve_dataset(args.data), specs, args.out, queries=args.queries, seed=args.seed,
                            first_stage=args.first_stage, depth=args.depth, subset=args.subset,
                            cache_dir=args.cache, cached_only=args.cached_only)
    print(Path(args.out, "table.md").read_text())
    if summary["incomplete"]:
        print(f"not in the cache for every question yet (left out): {', '.join(summary['incomplete'])}")
    return 0 if summary["rerankers"] else 1


def _cmd_bench_rag(args: argparse.Namespace) -> int:
    # a benchmark, offline by design: the frameworks' usage telemetry stays off unless the user has set it
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    from prorank_integrations.bench.datasets import resolve_dataset
    from prorank_integrations.bench.generation import make_generator
    from prorank_integrations.bench.rag import FRAMEWORKS, run_rag
    from prorank_integrations.bench.rerankers import RerankerSpec

    specs = [RerankerSpec.parse(s) for s in args.reranker]
    judge = None
    if args.judge:
        from prorank_integrations.bench.judge import make_judge

        judge = make_judge(args.judge)
    run_rag(resolve_dataset(args.data), specs, make_generator(args.generator), args.out, queries=args.queries,
            seed=args.seed, depth=args.depth, k=args.k, frameworks=tuple(args.framework or FRAMEWORKS), judge=judge)
    print(Path(args.out, "table.md").read_text())
    return 0


def _cmd_rerank_run(args: argparse.Namespace) -> int:
    from prorank_integrations.bench.datasets import resolve_dataset
    from prorank_integrations.distributed.rerank_run import read_run, rerank_run

    options = {"adapter": args.adapter, "max_length": args.max_length, "batch_size": args.batch_size,
               "dtype": args.dtype}
    out = rerank_run(resolve_dataset(args.data), read_run(args.run, args.depth), args.model, args.out,
                     engine_options=options, use_ray=args.ray is not None, ray_address=args.ray or None,
                     actors=args.actors, queries_per_batch=args.queries_per_batch)
    print(out)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from prorank_integrations.training.export import export_adapter, export_merged

    if args.merged:
        print(export_merged(Path(args.run) / "adapter", args.out))
    else:
        print(export_adapter(args.run, args.out, name=args.name, stages=args.stages))
    return 0


def _cmd_bench_speed(args: argparse.Namespace) -> int:
    from prorank_integrations.bench.datasets import resolve_dataset
    from prorank_integrations.bench.first_stage import BM25Retriever
    from prorank_integrations.bench.rerankers import local_model_path
    from prorank_integrations.bench.speed import cache_session, fast_engine, run_speed, scaling_curves
    from prorank_integrations.engine.scorer import ProRankScorer

    data = resolve_dataset(args.data)
    qids = data.sample_queries(args.queries, args.seed)
    hits = BM25Retriever(data).search([data.queries[q] for q in qids], k=args.depth)
    items = [(data.queries[q], [data.doc_text(d) for d, _ in row]) for q, row in zip(qids, hits)]
    engine = ProRankScorer(args.model, max_length=args.max_length, dtype=args.dtype, batch_size=args.batch_size)
    peers = () if args.peers == "none" else tuple(args.peers.split(","))
    model_path = args.model_path or local_model_path(args.model)
    run_speed(engine, model_path, items, args.out, repeats=args.repeats, peers=peers,
              fast_modes=tuple(args.fast or ()), layouts=tuple(args.fast_layout or ()), batch_size=args.batch_size,
              memory=args.memory, reference_dtype=args.reference_dtype)
    if args.cache_requests:
        cache_session(engine, items, args.cache_requests, seed=args.seed, out=args.out)
    if args.curves:
        timed = fast_engine(engine, model_path, args.curves_fast, args.batch_size) if args.curves_fast else engine
        scaling_curves(timed, [t for _, texts in items for t in texts], items[0][0], args.out,
                       counts=tuple(int(n) for n in args.curve_counts.split(",")))
    print(Path(args.out, "table.md").read_text())
    return 0


def build_parser() -> argparse.ArgumentParser:
    from prorank_integrations.engine.models import DEFAULT_MODEL

    parser = argparse.ArgumentParser(prog="prorank", description="ProRank reranking: models, ranking, training.")
    sub = parser.add_subparsers(dest="command", required=True)

    models_p = sub.add_parser("models", help="the offline model catalogue")
    models_sub = models_p.add_subparsers(dest="models_command", required=True)
    ls = models_sub.add_parser("list", help="catalogue models and whether they are in the cache")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_models_list)
    fetch = models_sub.add_parser("fetch", help="download, verify (sha256) and convert catalogue models")
    fetch.add_argument("names", nargs="+")
    fetch.add_argument("--force", action="store_true", help="fetch again even if complete")
    fetch.add_argument("--quiet", action="store_true")
    fetch.set_defaults(func=_cmd_models_fetch)

    rank = sub.add_parser("rank", help="rank documents for one query; prints JSON")
    rank.add_argument("query")
    rank.add_argument("documents", nargs="*", help="documents (else JSON lines from --jsonl or stdin)")
    rank.add_argument("--jsonl", help="file of JSON lines: strings or objects with 'text' ('-' for stdin)")
    rank.add_argument("--model", default=DEFAULT_MODEL, help="path, catalogue name or hub id")
    rank.add_argument("--adapter", help="peft adapter folder loaded on top of --model")
    rank.add_argument("--instruction")
    rank.add_argument("--top-k", type=int)
    rank.add_argument("--device")
    rank.add_argument("--dtype", default="auto")
    rank.add_argument("--max-length", type=int, default=1024)
    rank.add_argument("--batch-size", type=int, default=16)
    rank.set_defaults(func=_cmd_rank)

    train = sub.add_parser("train", help="'warmup' (stage 1, GRPO), 'score' (stage 2), 'cross-encoder' (baseline)")
    train.add_argument("stage", choices=["warmup", "score", "cross-encoder"])
    train.add_argument("--config", help="JSON or YAML run config (see training/config.py)")
    train.add_argument("--output-dir")
    train.add_argument("--base-model")
    train.add_argument("--init-adapter", help="stage 2: start from this stage 1 adapter")
    train.add_argument("--data", help="BEIR folder or cached data set name")
    train.add_argument("--max-groups", type=int)
    train.set_defaults(func=_cmd_train)
    export = sub.add_parser("export", help="export a training run: bf16 adapter with model card, or merged weights")
    export.add_argument("run", help="a training run folder (holds adapter/ and config.json)")
    export.add_argument("--out", required=True)
    export.add_argument("--name", help="catalogue name written in the model card")
    export.add_argument("--stages", default="stage 2 (listwise score learning)")
    export.add_argument("--merged", action="store_true", help="merge into the base model and save full weights")
    export.set_defaults(func=_cmd_export)
    data = sub.add_parser("data", help="evaluation and training data")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    data_fetch = data_sub.add_parser("fetch", help="build BEIR folders in the cache ($PRORANK_HOME/data)")
    data_fetch.add_argument("collection", choices=["squad"], help="squad: SQuAD v1.1 dev, SQuADShifts reddit/new-wiki")
    data_fetch.add_argument("--source", help="default: the snapshot bundled with the package; 'bigbench': "
                            "bigbench==1.0.0 from the package index; else a folder or archive of the SQuAD JSON files")
    data_fetch.add_argument("--force", action="store_true")
    data_fetch.set_defaults(func=_cmd_data_fetch)

    rr = sub.add_parser("rerank-run", help="rerank a first-stage run (TREC or JSONL) into a TREC run; Ray optional")
    rr.add_argument("--data", required=True, help="BEIR folder or cached data set name")
    rr.add_argument("--run", required=True, help="TREC run file, or JSONL of {qid, candidates}")
    rr.add_argument("--out", required=True, help="output TREC run (progress kept beside it; reruns resume)")
    rr.add_argument("--model", default=DEFAULT_MODEL)
    rr.add_argument("--adapter")
    rr.add_argument("--depth", type=int, help="rerank only the first N candidates of each query")
    rr.add_argument("--max-length", type=int, default=512)
    rr.add_argument("--batch-size", type=int, default=16)
    rr.add_argument("--dtype", default="auto")
    rr.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                    help="run on Ray (a local instance, or the cluster at ADDRESS)")
    rr.add_argument("--actors", type=int, default=1, help="engines (actors) on Ray; one GPU each where GPUs exist")
    rr.add_argument("--queries-per-batch", type=int, default=4)
    rr.set_defaults(func=_cmd_rerank_run)

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    ret = bench_sub.add_parser("retrieval", help="rerankers compared on the same first-stage candidates")
    ret.add_argument("--data", required=True, help="BEIR folder or cached data set name")
    ret.add_argument("--reranker", action="append", required=True,
                     help="[label=]spec: none | bi-encoder:M | cross-encoder:M | prorank:M[+adapter=P][+max_length=N]")
    ret.add_argument("--out", required=True)
    ret.add_argument("--queries", type=int, default=200, help="questions sampled (random.Random(seed).sample)")
    ret.add_argument("--seed", type=int, default=0)
    ret.add_argument("--subset", type=int, help="only the first N sampled questions")
    ret.add_argument("--cached-only", action="store_true",
                     help="summarise only the rerankers the cache holds for every question; compute nothing")
    ret.add_argument("--cache", help="folder of candidates and per-query rows (default: --out)")
    ret.add_argument("--first-stage", default="bm25", help="bm25 | dense[:MODEL]")
    ret.add_argument("--depth", type=int, default=100, help="first-stage candidates reranked")
    ret.set_defaults(func=_cmd_bench_retrieval)
    speed = bench_sub.add_parser("speed", help="scoring implementations side by side on the same pairs")
    speed.add_argument("--data", default="squadshifts-reddit")
    speed.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    speed.add_argument("--model-path", help="plain transformers folder for the peers (default: the resolved model)")
    speed.add_argument("--queries", type=int, default=10)
    speed.add_argument("--depth", type=int, default=20)
    speed.add_argument("--seed", type=int, default=0)
    speed.add_argument("--max-length", type=int, default=512)
    speed.add_argument("--dtype", default="auto")
    speed.add_argument("--batch-size", type=int, default=16)
    speed.add_argument("--repeats", type=int, default=3)
    speed.add_argument("--peers", default="naive,sentence-transformers,mxbai-rerank", help="comma list, or none")
    speed.add_argument("--fast", action="append", help="engine speed mode row, e.g. prefix or prefix,int8 "
                       "(repeatable)")
    speed.add_argument("--fast-layout", action="append", help="row fast-prefix+LAYOUT: prefix mode on another "
                       "prompt layout (query-first), for models trained with it; LAYOUT:MODES adds speed modes, e.g. "
                       "query-first:prefix,compile (repeatable)")
    speed.add_argument("--reference-dtype", help="also judge every row against an untimed naive pass in this dtype "
                       "(e.g. fp32: the truth bf16 rows are measured against)")
    speed.add_argument("--memory", action="store_true", help="peak RSS of a fresh scoring process per engine row")
    speed.add_argument("--cache-requests", type=int, default=0,
                       help="also time a session of N requests with repeated questions, with and without score cache")
    speed.add_argument("--curves", action="store_true", help="also time vs documents and vs document length")
    speed.add_argument("--curves-fast", help="speed mode of the engine timed for the curves (default exact)")
    speed.add_argument("--curve-counts", default="10,30,100,300,1000", help="documents per query for the curve")
    speed.add_argument("--out", required=True)
    speed.set_defaults(func=_cmd_bench_speed)
    rag = bench_sub.add_parser("rag", help="RAG answer quality (RAGAS) through Haystack and LlamaIndex pipelines")
    rag.add_argument("--data", required=True)
    rag.add_argument("--reranker", action="append", required=True, help="[label=]spec, as for retrieval")
    rag.add_argument("--generator", default="local:qwen2.5-coder-0.5b-instruct",
                     help="local:MODEL (transformers) or openai:MODEL@URL (any OpenAI-compatible endpoint)")
    rag.add_argument("--out", required=True)
    rag.add_argument("--judge", help="judge LLM for Faithfulness, LLMContextPrecisionWithReference and "
                     "ResponseRelevancy: local:MODEL or openai:MODEL@URL (none: judge-free metrics only)")
    rag.add_argument("--queries", type=int, default=100)
    rag.add_argument("--seed", type=int, default=0)
    rag.add_argument("--depth", type=int, default=20, help="BM25 candidates per question")
    rag.add_argument("--k", type=int, default=3, help="contexts given to the generator")
    rag.add_argument("--framework", action="append", choices=["haystack", "llama_index"],
                     default=None, help="repeatable; default both")
    rag.set_defaults(func=_cmd_bench_rag)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
