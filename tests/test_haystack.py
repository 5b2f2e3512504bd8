"""ProRankRanker in real Haystack pipelines, on the tiny in-process model."""

import asyncio

import numpy as np
import pytest
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.utils import ComponentDevice, Secret

from prorank_integrations.engine.scorer import Calibration, shared_scorer
from prorank_integrations.haystack import ProRankRanker

TEXTS = ["Paris is the capital of France.", "The lazy dog sleeps.", "Berlin is in Germany.", "France " * 50]


@pytest.fixture
def ranker(tiny_model_dir):
    r = ProRankRanker(model=tiny_model_dir, dtype="fp32", max_length=512, top_k=3,
                      device=ComponentDevice.from_str("cpu"))
    r.warm_up()
    return r


def docs():
    return [Document(content=t, meta={"n": i}) for i, t in enumerate(TEXTS)]


def test_scores_are_exactly_the_engines(ranker, tiny_model_dir):
    engine = shared_scorer(tiny_model_dir, device="cpu", dtype="fp32", max_length=512)
    assert ranker._scorer is engine
    raw = engine.score("capital of france", TEXTS)
    out = ranker.run(query="capital of france", documents=docs(), top_k=4, scale_score=False)["documents"]
    order = list(np.argsort(-raw, kind="stable"))
    assert [d.meta["n"] for d in out] == order
    np.testing.assert_allclose([d.score for d in out], raw[order], atol=1e-6)
    scaled = ranker.run(query="capital of france", documents=docs(), top_k=4)["documents"]
    np.testing.assert_allclose([d.score for d in scaled], 1 / (1 + np.exp(-raw[order])), atol=1e-6)


def test_scaled_scores_that_saturate_keep_the_raw_order(ranker, monkeypatch):
    monkeypatch.setattr(ranker._scorer, "calibration", Calibration(temperature=1e-6))  # every probability 0 or 1
    raw = ranker.run(query="capital of france", documents=docs(), top_k=4, scale_score=False)["documents"]
    scaled = ranker.run(query="capital of france", documents=docs(), top_k=4)["documents"]
    assert [d.id for d in scaled] == [d.id for d in raw] and {d.score for d in scaled} <= {0.0, 1.0}


def test_output_is_new_sorted_cut_and_originals_untouched(ranker):
    original = docs()
    out = ranker.run(query="capital", documents=original)["documents"]
    assert len(out) == 3
    assert [d.score for d in out] == sorted((d.score for d in out), reverse=True)
    assert all(d.score is None for d in original)
    assert {d.id for d in out} <= {d.id for d in original}


def test_threshold_top_k_and_errors(ranker):
    all_scores = [d.score for d in ranker.run(query="q", documents=docs(), top_k=4)["documents"]]
    cut = sorted(all_scores)[1]
    kept = ranker.run(query="q", documents=docs(), top_k=4, score_threshold=cut)["documents"]
    assert [d.score for d in kept] == [s for s in all_scores if s >= cut]
    assert ranker.run(query="q", documents=docs(), score_threshold=2.0)["documents"] == []
    assert len(ranker.run(query="q", documents=docs(), top_k=100)["documents"]) == 4
    for bad in (0, -1):
        with pytest.raises(ValueError, match="top_k"):
            ranker.run(query="q", documents=docs(), top_k=bad)
    with pytest.raises(ValueError, match="top_k"):
        ProRankRanker(model="x", top_k=0)
    with pytest.raises(ValueError, match="batch_size"):
        ProRankRanker(model="x", batch_size=0)
    with pytest.raises(TypeError, match=r"documents\[1\]"):
        ranker.run(query="q", documents=[Document(content="a"), "not a document"])
    assert ranker.run(query="q", documents=[])["documents"] == []


def test_documents_without_text_are_kept_and_duplicates_reduced(ranker):
    blank = Document(content=None, meta={"title": "no text"})
    dup = Document(content="Paris is the capital of France.")
    out = ranker.run(query="capital", documents=[dup, blank, Document(content="Paris is the capital of France.")],
                     top_k=10)["documents"]
    assert len(out) == 2  # the same content twice has the same id: one is kept, as in Haystack's rankers
    assert blank.id in {d.id for d in out}


def test_meta_fields_and_prefixes_change_the_scored_text(tiny_model_dir):
    plain = ProRankRanker(model=tiny_model_dir, dtype="fp32", max_length=512)
    with_meta = ProRankRanker(model=tiny_model_dir, dtype="fp32", max_length=512, meta_fields_to_embed=["title"],
                              document_prefix="passage: ")
    doc = Document(content="text", meta={"title": "France"})
    assert plain._text(doc) == "text"
    assert with_meta._text(doc) == "passage: France\ntext"
    a = plain.run(query="q", documents=[doc], scale_score=False)["documents"][0].score
    b = with_meta.run(query="q", documents=[doc], scale_score=False)["documents"][0].score
    assert a != b


def test_to_dict_from_dict_and_secret_never_in_clear(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("MY_HF_TOKEN", "hf_secret_value")
    r = ProRankRanker(model=tiny_model_dir, token=Secret.from_env_var("MY_HF_TOKEN"), top_k=2, instruction="x",
                      model_kwargs={"attn_implementation": "sdpa"}, fast="prefix", prompt_layout="query-first")
    d = r.to_dict()
    assert d["type"] == "prorank_integrations.haystack.ranker.ProRankRanker"
    assert d["init_parameters"]["fast"] == "prefix" and d["init_parameters"]["prompt_layout"] == "query-first"
    assert d["init_parameters"]["token"] == {"type": "env_var", "env_vars": ["MY_HF_TOKEN"], "strict": True}
    assert "hf_secret_value" not in repr(d)
    back = ProRankRanker.from_dict(d)
    assert back.to_dict() == d and back.fast == "prefix"
    with pytest.raises(ValueError):
        ProRankRanker(model="x", token=Secret.from_token("hf_secret_value")).to_dict()


def _pipeline(tiny_model_dir):
    store = InMemoryDocumentStore()
    store.write_documents(docs())
    p = Pipeline()
    p.add_component("retriever", InMemoryBM25Retriever(document_store=store, top_k=4))
    p.add_component("ranker", ProRankRanker(model=tiny_model_dir, dtype="fp32", max_length=512, top_k=2))
    p.connect("retriever.documents", "ranker.documents")
    return p


def test_pipeline_yaml_round_trip_gives_same_results(tiny_model_dir):
    p = _pipeline(tiny_model_dir)
    inputs = {"retriever": {"query": "capital of France"}, "ranker": {"query": "capital of France"}}
    first = p.run(inputs)["ranker"]["documents"]
    loaded = Pipeline.loads(p.dumps())  # allowed: importing prorank_integrations.haystack registers its module
    second = loaded.run(inputs)["ranker"]["documents"]
    assert [(d.id, d.score) for d in first] == [(d.id, d.score) for d in second]
    assert len(first) == 2


def test_async_run_and_async_pipeline_run_match_sync(ranker, tiny_model_dir):
    sync = ranker.run(query="capital", documents=docs())["documents"]
    async_out = asyncio.run(ranker.run_async(query="capital", documents=docs()))["documents"]
    assert [(d.id, d.score) for d in sync] == [(d.id, d.score) for d in async_out]
    inputs = {"retriever": {"query": "capital"}, "ranker": {"query": "capital"}}
    sync_p = _pipeline(tiny_model_dir).run(inputs)["ranker"]["documents"]
    async_p = asyncio.run(_pipeline(tiny_model_dir).run_async(inputs))["ranker"]["documents"]  # haystack 3
    assert [(d.id, d.score) for d in sync_p] == [(d.id, d.score) for d in async_p]


def test_integration_namespace_exports_the_same_class():
    from haystack_integrations.components.rankers.prorank import ProRankRanker as Namespaced

    assert Namespaced is ProRankRanker


def test_yaml_in_a_fresh_process_needs_the_allowlist_entry(tiny_model_dir, tmp_path):
    import subprocess
    import sys

    path = tmp_path / "pipe.yaml"
    path.write_text(_pipeline(tiny_model_dir).dumps())
    code = f"""
from haystack import Pipeline
from haystack.core.errors import DeserializationError
text = open({str(path)!r}).read()
try:
    Pipeline.loads(text)
    print("loaded without allowlist")
except DeserializationError as err:
    print("refused:", "prorank_integrations" in str(err))
from haystack import Document
p = Pipeline.loads(text, allowed_modules=["prorank_integrations.haystack"])
ranker = p.get_component("ranker")
print("ranked:", type(ranker).__name__, len(ranker.run(query="q", documents=[Document(content="a"),
                                                                             Document(content="b")])["documents"]))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "refused: True" in result.stdout, result.stderr[-2000:]
    assert "ranked: ProRankRanker 2" in result.stdout, result.stderr[-2000:]
