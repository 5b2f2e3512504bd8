"""ProRankRerank in a real LlamaIndex query engine, on the tiny in-process model."""

import asyncio

import numpy as np
import pytest
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.llms.mock import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from prorank_integrations.engine.scorer import Calibration, shared_scorer
from prorank_integrations.llama_index import ProRankRerank

TEXTS = ["Paris is the capital of France.", "The lazy dog sleeps.", "Berlin is in Germany.", "France " * 50]


def nodes():
    return [NodeWithScore(node=TextNode(text=t, id_=f"n{i}", metadata={"i": i}), score=0.1 * i)
            for i, t in enumerate(TEXTS)]


@pytest.fixture
def rerank(tiny_model_dir):
    return ProRankRerank(model=tiny_model_dir, top_n=3, device="cpu", dtype="fp32", max_length=512)


def test_scores_are_exactly_the_engines(rerank, tiny_model_dir):
    engine = shared_scorer(tiny_model_dir, device="cpu", dtype="fp32", max_length=512)
    assert rerank.scorer is engine
    inputs = nodes()
    texts = [n.node.get_content(metadata_mode="embed") for n in inputs]
    raw = engine.score("capital of france", texts)
    rerank.scale_score, rerank.top_n = False, 4
    out = rerank.postprocess_nodes(inputs, query_str="capital of france")
    order = list(np.argsort(-raw, kind="stable"))
    assert [n.node.node_id for n in out] == [f"n{i}" for i in order]
    np.testing.assert_allclose([n.score for n in out], raw[order], atol=1e-6)


def test_scaled_scores_that_saturate_keep_the_raw_order(rerank, monkeypatch):
    monkeypatch.setattr(rerank.scorer, "calibration", Calibration(temperature=1e-6))  # every probability 0 or 1
    rerank.top_n = 4
    scaled = rerank.postprocess_nodes(nodes(), query_str="capital of france")
    rerank.scale_score = False
    raw = rerank.postprocess_nodes(nodes(), query_str="capital of france")
    assert [n.node.node_id for n in scaled] == [n.node.node_id for n in raw]
    assert {n.score for n in scaled} <= {0.0, 1.0}


def test_metadata_is_part_of_the_scored_text(rerank):
    node = TextNode(text="body", metadata={"title": "France"})
    assert "title: France" in node.get_content(metadata_mode="embed")
    with_meta = rerank.postprocess_nodes([NodeWithScore(node=node)], query_str="q")[0].score
    without = rerank.postprocess_nodes([NodeWithScore(node=TextNode(text="body"))], query_str="q")[0].score
    assert with_meta != without


def test_top_n_order_and_callers_nodes_untouched(rerank):
    inputs = nodes()
    rerank.keep_retrieval_score = True
    out = rerank.postprocess_nodes(inputs, query_str="capital")
    assert len(out) == 3
    assert [n.score for n in out] == sorted((n.score for n in out), reverse=True)
    for n in out:
        assert n.node.metadata["retrieval_score"] == pytest.approx(0.1 * n.node.metadata["i"])
    assert [n.score for n in inputs] == pytest.approx([0.0, 0.1, 0.2, 0.3])  # caller's scores unchanged
    assert all("retrieval_score" not in n.node.metadata for n in inputs)


def test_bad_inputs(rerank):
    with pytest.raises(ValueError, match="Missing query"):
        rerank.postprocess_nodes(nodes())
    assert rerank.postprocess_nodes([], query_str="q") == []
    blank = NodeWithScore(node=TextNode(text="", id_="blank"))
    out = rerank.postprocess_nodes([blank, *nodes()[:1]], query_str="q")
    assert {n.node.node_id for n in out} == {"blank", "n0"}  # nodes without text are kept, not dropped
    with pytest.raises(ValueError):
        ProRankRerank(model="x", top_n=0)


def test_events_and_callbacks(rerank):
    seen = []

    class Collect(BaseEventHandler):
        def handle(self, event, **kwargs):
            seen.append(event.class_name())

    handler = Collect()
    get_dispatcher().add_event_handler(handler)
    debug = LlamaDebugHandler()
    rerank.callback_manager = CallbackManager([debug])
    try:
        rerank.postprocess_nodes(nodes(), query_str="capital")
    finally:
        get_dispatcher().event_handlers.remove(handler)
    assert "ReRankStartEvent" in seen and "ReRankEndEvent" in seen
    assert len(debug.get_event_pairs(CBEventType.RERANKING)) == 1


def test_async_matches_sync(rerank):
    sync = rerank.postprocess_nodes(nodes(), query_str="capital")
    asynchronous = asyncio.run(rerank.apostprocess_nodes(nodes(), query_bundle=QueryBundle("capital")))
    assert [(n.node.node_id, n.score) for n in sync] == [(n.node.node_id, n.score) for n in asynchronous]


def test_in_a_retriever_query_engine(rerank):
    from llama_index.retrievers.bm25 import BM25Retriever

    retriever = BM25Retriever.from_defaults(nodes=[n.node for n in nodes()], similarity_top_k=4)
    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM(), node_postprocessors=[rerank])
    retrieved = engine.retrieve(QueryBundle("capital of France"))
    direct = rerank.postprocess_nodes(retriever.retrieve("capital of France"), query_str="capital of France")
    assert [(n.node.node_id, n.score) for n in retrieved] == [(n.node.node_id, n.score) for n in direct]
    response = engine.query("capital of France")
    assert len(response.source_nodes) == 3
