"""A LlamaIndex query engine: BM25Retriever -> ProRankRerank in a RetrieverQueryEngine (retrieval only, no LLM).

Run: python examples/llama_index_query_engine.py [--model NAME] [--question TEXT]
"""

import argparse

from llama_index.core.llms.mock import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import QueryBundle, TextNode
from llama_index.retrievers.bm25 import BM25Retriever

from prorank_integrations.data import sample_dataset
from prorank_integrations.engine.models import demo_model
from prorank_integrations.llama_index import ProRankRerank


def build(model: str, candidates: int = 10, top_n: int = 3) -> RetrieverQueryEngine:
    data = sample_dataset()
    nodes = [TextNode(id_=did, text=data.doc_text(did)) for did in data.corpus]
    retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=candidates)
    rerank = ProRankRerank(model=model, top_n=top_n, max_length=512)
    return RetrieverQueryEngine.from_args(retriever, llm=MockLLM(), node_postprocessors=[rerank])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=demo_model())
    parser.add_argument("--question", default=next(iter(sample_dataset().queries.values())))
    args = parser.parse_args()
    print(f"Q: {args.question}")
    for n in build(args.model).retrieve(QueryBundle(args.question)):
        print(f"  {n.score:.3f}  [{n.node.node_id}] {n.node.get_content()[:100]}...")


if __name__ == "__main__":
    main()
