"""Invariants under generated input (hypothesis), concurrency and very large input, for both adapters."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from haystack import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llama_index.core.schema import NodeWithScore, TextNode

from prorank_integrations.haystack import ProRankRanker
from prorank_integrations.llama_index import ProRankRerank

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@pytest.fixture(scope="module")
def ranker(tiny_model_dir):
    r = ProRankRanker(model=tiny_model_dir, dtype="fp32", max_length=512, top_k=100, scale_score=False)
    r.warm_up()
    r._scorer.cache.size = 0  # every call computes: the invariants are about computation, not the cache
    return r


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(TEXT, min_size=0, max_size=8), top_k=st.integers(1, 10), query=TEXT)
def test_ranker_output_is_a_sorted_subset_with_content_preserved(ranker, texts, top_k, query):
    docs = [Document(content=t, meta={"i": i}) for i, t in enumerate(texts)]
    snapshot = [(d.id, d.content, dict(d.meta), d.score) for d in docs]
    out = ranker.run(query=query, documents=docs, top_k=top_k)["documents"]
    unique = {d.id for d in docs}
    assert len(out) == min(top_k, len(unique))
    assert [d.score for d in out] == sorted((d.score for d in out), reverse=True)
    by_id = {d.id: d for d in docs}
    for d in out:
        assert d.content == by_id[d.id].content and d.meta == by_id[d.id].meta
    assert [(d.id, d.content, dict(d.meta), d.score) for d in docs] == snapshot


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(TEXT, min_size=1, max_size=8, unique=True), seed=st.integers(0, 1000),
       batch=st.integers(1, 8))
def test_scores_do_not_depend_on_order_or_batch_size(ranker, texts, seed, batch):
    engine = ranker._scorer
    base = engine.score("a query", texts, batch_size=8)
    perm = np.random.default_rng(seed).permutation(len(texts))
    again = engine.score("a query", [texts[i] for i in perm], batch_size=batch)
    np.testing.assert_allclose(again, base[perm], atol=1e-4)  # fp32; bf16 padding differs by up to ~1e-2


def test_threads_share_one_ranker_and_postprocessor(ranker, tiny_model_dir):
    queries = [f"question {i}" for i in range(12)]
    docs = [Document(content=f"paragraph {j} about topic {j % 3}") for j in range(6)]
    sequential = [[(d.id, d.score) for d in ranker.run(query=q, documents=docs)["documents"]] for q in queries]
    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = list(pool.map(lambda q: [(d.id, d.score) for d in ranker.run(query=q, documents=docs)["documents"]],
                                 queries))
    for a, b in zip(sequential, parallel):
        assert [i for i, _ in a] == [i for i, _ in b]
        np.testing.assert_allclose([s for _, s in a], [s for _, s in b], atol=1e-5)

    rerank = ProRankRerank(model=tiny_model_dir, dtype="fp32", max_length=512, top_n=6, device="cpu",
                           scale_score=False)
    nodes = [NodeWithScore(node=TextNode(text=d.content, id_=str(i))) for i, d in enumerate(docs)]
    seq_nodes = [[n.node.node_id for n in rerank.postprocess_nodes(nodes, query_str=q)] for q in queries]
    with ThreadPoolExecutor(max_workers=6) as pool:
        par_nodes = list(pool.map(lambda q: [n.node.node_id for n in rerank.postprocess_nodes(nodes, query_str=q)],
                                  queries))
    assert seq_nodes == par_nodes


def test_concurrent_async_calls_match_sequential(ranker):
    docs = [Document(content=f"text number {j}") for j in range(5)]
    queries = [f"q{i}" for i in range(8)]
    sequential = [[d.id for d in ranker.run(query=q, documents=docs)["documents"]] for q in queries]

    async def main():
        return await asyncio.gather(*(ranker.run_async(query=q, documents=docs) for q in queries))

    assert [[d.id for d in r["documents"]] for r in asyncio.run(main())] == sequential


def test_one_megabyte_document_and_duplicates(ranker):
    big = Document(content="lorem ipsum " * 90_000)
    small = Document(content="short")
    out = ranker.run(query="lorem", documents=[big, small, Document(content="short")], top_k=5)["documents"]
    assert {d.id for d in out} == {big.id, small.id}
    assert all(np.isfinite(d.score) for d in out)
