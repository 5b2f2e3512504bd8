"""`make demo`: real questions, first-stage order vs ProRank order, through Haystack and through LlamaIndex.

Both frameworks share one loaded engine. The gold paragraph of each question is marked with *.
"""

import argparse
import time

from haystack_pipeline import build as build_haystack  # noqa: I001  (examples/ is on sys.path when run)
from llama_index.core.schema import QueryBundle
from llama_index_query_engine import build as build_llama

from prorank_integrations.data import sample_dataset
from prorank_integrations.engine.models import demo_model


def show(title: str, first_stage: list[str], reranked: list[tuple[str, float]], gold: set[str]) -> None:
    print(f"  {title}")
    print("    first stage: " + "  ".join(("*" if d in gold else "") + d for d in first_stage))
    print("    ProRank:     " + "  ".join(("*" if d in gold else "") + f"{d}({s:.2f})" for d, s in reranked))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=demo_model())
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=8)
    args = parser.parse_args()
    data = sample_dataset()
    print(f"model: {args.model}; {args.candidates} BM25 candidates per question; * marks the gold paragraph\n")
    haystack = build_haystack(args.model, candidates=args.candidates, top_k=args.candidates)
    llama = build_llama(args.model, candidates=args.candidates, top_n=args.candidates)
    start = time.time()
    for qid in sorted(data.queries)[: args.questions]:
        q, gold = data.queries[qid], set(data.qrels[qid])
        print(f"Q: {q}")
        res = haystack.run({"retriever": {"query": q}, "ranker": {"query": q}},
                           include_outputs_from={"retriever"})
        show("Haystack  (InMemoryBM25Retriever -> ProRankRanker)", [d.id for d in res["retriever"]["documents"]],
             [(d.id, d.score) for d in res["ranker"]["documents"]], gold)
        first = llama.retriever.retrieve(q)
        reranked = llama.retrieve(QueryBundle(q))
        show("LlamaIndex (BM25Retriever -> ProRankRerank)", [n.node.node_id for n in first],
             [(n.node.node_id, n.score) for n in reranked], gold)
        print()
    print(f"done in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
