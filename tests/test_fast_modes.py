"""Engine speed modes on the tiny model: prefix reuse and compilation give the exact scores; int8 is close; bad modes
are refused."""

import numpy as np
import pytest

from prorank_integrations.engine.scorer import ProRankScorer, common_prefix_length, parse_fast
from tests.test_engine import DOCS, QUERY, naive_scores


@pytest.fixture(scope="module")
def exact(tiny_model_dir):
    return ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512, batch_size=4, cache_size=0)


@pytest.fixture(scope="module", params=[False, True], ids=["one-by-one", "padded"])
def prefix(tiny_model_dir, request):
    return ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512, batch_size=4, cache_size=0,
                         fast="prefix", padding=request.param)


def test_prefix_mode_equals_the_naive_reference(prefix):
    scores = prefix.score(QUERY, DOCS)
    ref = naive_scores(prefix, QUERY, DOCS)
    np.testing.assert_allclose(scores, ref, atol=1e-4, rtol=0)
    assert list(np.argsort(-scores, kind="stable")) == list(np.argsort(-ref, kind="stable"))


def test_prefix_mode_score_many_and_batch_sizes(prefix, exact):
    many = prefix.score_many([(QUERY, DOCS[:4]), ("a dog", DOCS[2:]), ("none", [])])
    np.testing.assert_allclose(many[0], exact.score(QUERY, DOCS[:4]), atol=1e-4)
    np.testing.assert_allclose(many[1], exact.score("a dog", DOCS[2:]), atol=1e-4)
    assert many[2].shape == (0,)
    np.testing.assert_allclose(prefix.score(QUERY, DOCS, batch_size=6), exact.score(QUERY, DOCS), atol=1e-4)


def test_prefix_covers_chat_prefix_and_query(prefix):
    seqs = prefix.encode(QUERY, DOCS[:2])
    shared = common_prefix_length(seqs)
    assert shared >= len(prefix.prompt.query_ids(QUERY))
    assert common_prefix_length([[1, 2, 3], [1, 2, 4], [1, 9]]) == 1
    assert common_prefix_length([[1, 2], [1, 2, 3]]) == 2


def test_int8_mode_is_close_to_exact_and_keeps_every_document(tiny_model_dir, exact):
    int8 = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512, cache_size=0, fast="prefix,int8")
    assert int8.fast == ("prefix", "int8")
    scores, ref = int8.score(QUERY, DOCS), exact.score(QUERY, DOCS)
    assert scores.shape == ref.shape and np.isfinite(scores).all()
    assert np.corrcoef(scores, ref)[0, 1] > 0.9


def test_unknown_fast_mode_is_refused():
    assert parse_fast(None) == () and parse_fast("") == () and parse_fast(["int8", "prefix"]) == ("prefix", "int8")
    with pytest.raises(ValueError, match="unknown fast mode"):
        parse_fast("turbo")
    with pytest.raises(ValueError, match="cannot be combined"):
        parse_fast("int8,compile")


def test_compile_mode_gives_the_exact_scores_on_packed_rows(tiny_model_dir, exact):
    compiled = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512, cache_size=0,
                             fast="compile")
    assert compiled.packing and compiled.fast == ("compile",)
    for query, docs in ((QUERY, DOCS), ("a dog", DOCS[1:4])):  # another query and length: dynamic shapes
        scores, ref = compiled.score(query, docs), exact.score(query, docs)
        np.testing.assert_allclose(scores, ref, atol=1e-4, rtol=0)
        assert list(np.argsort(-scores, kind="stable")) == list(np.argsort(-ref, kind="stable"))
    assert exact.model.model.layers[0].mlp._compiled_call_impl is None  # another engine's model is left alone


@pytest.fixture(scope="module")
def query_first(tiny_model_dir):
    return ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512, cache_size=0, fast="prefix",
                         prompt_layout="query-first")


def test_query_first_layout_moves_the_task_before_the_query(query_first, exact):
    text = query_first.tokenizer.decode(query_first.encode(QUERY, [DOCS[0]])[0])
    assert text == query_first.prompt.template.render(QUERY, DOCS[0])
    description, _, rest = text.partition("relevant).\nquery: " + QUERY)
    assert "You are a search relevance expert" in description and rest.endswith("\nRelevance:<|im_end|>\n"
                                                                                 "<|im_start|>assistant\n")
    published = exact.tokenizer.decode(exact.encode(QUERY, [DOCS[0]])[0])
    assert sorted(text.split()) == sorted(published.split())  # the same words, in another order
    # what runs per document: the published tail (task prompt, chat suffix) against a few tokens here
    shared_qf = common_prefix_length(query_first.encode(QUERY, DOCS[:2]))
    shared_pub = common_prefix_length(exact.encode(QUERY, DOCS[:2]))
    per_doc_qf = len(query_first.encode(QUERY, [DOCS[0]])[0]) - shared_qf
    per_doc_pub = len(exact.encode(QUERY, [DOCS[0]])[0]) - shared_pub
    assert shared_qf > shared_pub + 20 and per_doc_qf < per_doc_pub - 20


def test_query_first_prefix_mode_equals_the_naive_reference(query_first, exact):
    scores = query_first.score(QUERY, DOCS)
    np.testing.assert_allclose(scores, naive_scores(query_first, QUERY, DOCS), atol=1e-4, rtol=0)
    assert not np.allclose(scores, exact.score(QUERY, DOCS), atol=1e-3)  # another prompt, other scores


def test_framework_components_serve_a_prompt_layout_they_are_given(tiny_model_dir, query_first):
    from haystack import Document

    from prorank_integrations.haystack import ProRankRanker
    from prorank_integrations.llama_index import ProRankRerank

    ranker = ProRankRanker(model=tiny_model_dir, dtype="fp32", max_length=512, fast="prefix", top_k=4,
                           prompt_layout="query-first", scale_score=False)
    ranker.warm_up()
    out = ranker.run(query=QUERY, documents=[Document(content=d) for d in DOCS[:4]])["documents"]
    expected = query_first.score(QUERY, DOCS[:4])
    np.testing.assert_allclose(sorted(d.score for d in out), sorted(expected), atol=1e-5)
    rerank = ProRankRerank(model=tiny_model_dir, dtype="fp32", device="cpu", max_length=512, fast="prefix",
                           prompt_layout="query-first")
    assert rerank.scorer is ranker._scorer and rerank.scorer.prompt_layout == "query-first"


def test_unknown_prompt_layout_is_refused(tiny_model_dir):
    with pytest.raises(ValueError, match="unknown prompt layout"):
        ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", prompt_layout="document-first")
