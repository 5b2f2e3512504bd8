"""A Haystack pipeline: InMemoryBM25Retriever -> ProRankRanker over the bundled sample of real paragraphs.

Run: python examples/haystack_pipeline.py [--model NAME] [--question TEXT]
"""

import argparse

from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack.document_stores.in_memory import InMemoryDocumentStore

from prorank_integrations.data import sample_dataset
from prorank_integrations.engine.models import demo_model
from prorank_integrations.haystack import ProRankRanker


def build(model: str, candidates: int = 10, top_k: int = 3) -> Pipeline:
    data = sample_dataset()
    store = InMemoryDocumentStore()
    store.write_documents([Document(id=did, content=data.doc_text(did)) for did in data.corpus])
    pipe = Pipeline()
    pipe.add_component("retriever", InMemoryBM25Retriever(document_store=store, top_k=candidates))
    pipe.add_component("ranker", ProRankRanker(model=model, top_k=top_k, max_length=512))
    pipe.connect("retriever.documents", "ranker.documents")
    return pipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=demo_model())
    parser.add_argument("--question", default=next(iter(sample_dataset().queries.values())))
    args = parser.parse_args()
    result = build(args.model).run({"retriever": {"query": args.question}, "ranker": {"query": args.question}})
    print(f"Q: {args.question}")
    for doc in result["ranker"]["documents"]:
        print(f"  {doc.score:.3f}  [{doc.id}] {doc.content[:100]}...")


if __name__ == "__main__":
    main()
