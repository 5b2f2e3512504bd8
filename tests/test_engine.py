"""The engine on a tiny random Qwen2 model: scores equal a naive full forward pass, truncation, order, bad input."""

import copy

import numpy as np
import pytest
import torch

from prorank_integrations.engine.prompt import PromptTemplate, ProRankPrompt
from prorank_integrations.engine.scorer import ProRankScorer, left_pad, plan_batches, relevance_scores

QUERY = "what is the capital of france"
DOCS = [
    "Paris is the capital and largest city of France.",
    "the quick brown fox " * 60,
    "",
    "0 1 2 3",
    "the lazy dog",
    "France " * 300,
]


@pytest.fixture(scope="module")
def scorer(tiny_model_dir):
    return ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512, batch_size=4, cache_size=0,
                         padding=True)


def naive_scores(scorer, query, docs):
    """Reference: batch size 1, full forward, full-vocabulary logits at the last position, fp32."""
    id1, id0 = scorer.prompt.token_ids
    out = []
    with torch.no_grad():
        for ids in scorer.encode(query, docs):
            logits = scorer.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
            out.append(float(logits[id1] - logits[id0]))
    return np.array(out)


def test_scores_equal_naive_reference_with_mixed_lengths(scorer):
    fast = scorer.score(QUERY, DOCS)
    ref = naive_scores(scorer, QUERY, DOCS)
    np.testing.assert_allclose(fast, ref, atol=1e-4, rtol=0)
    assert list(np.argsort(-fast, kind="stable")) == list(np.argsort(-ref, kind="stable"))


def test_batch_size_and_input_order_do_not_change_scores(scorer):
    base = scorer.score(QUERY, DOCS, batch_size=1)
    np.testing.assert_allclose(scorer.score(QUERY, DOCS, batch_size=6), base, atol=1e-4)
    perm = [3, 0, 5, 1, 4, 2]
    permuted = scorer.score(QUERY, [DOCS[i] for i in perm])
    np.testing.assert_allclose(permuted, base[perm], atol=1e-4)


def test_score_many_matches_score(scorer):
    many = scorer.score_many([(QUERY, DOCS[:3]), ("dog", DOCS[3:]), ("empty", [])])
    np.testing.assert_allclose(many[0], scorer.score(QUERY, DOCS[:3]), atol=1e-4)
    np.testing.assert_allclose(many[1], scorer.score("dog", DOCS[3:]), atol=1e-4)
    assert many[2].shape == (0,)


def test_prompt_is_the_published_template_when_nothing_is_cut(scorer):
    ids = scorer.encode(QUERY, [DOCS[0]], instruction="find the answer")[0]
    expected = PromptTemplate().render(QUERY, DOCS[0], instruction="find the answer")
    assert scorer.tokenizer.decode(ids) == expected
    assert expected.endswith("Relevance:<|im_end|>\n<|im_start|>assistant\n")
    assert "instruction: find the answer\nquery: " in expected


def test_truncation_keeps_suffix_and_bounds_length(scorer):
    huge = "word " * 200_000  # about 1 MB
    ids = scorer.encode("q " * 5000, [huge])[0]
    assert len(ids) == scorer.max_length
    tail = scorer.tokenizer(scorer.prompt.template.sep + scorer.prompt.template.task + scorer.prompt.template.suffix,
                            add_special_tokens=False)["input_ids"]
    assert ids[-len(tail):] == tail
    assert "document: word" in scorer.tokenizer.decode(ids)  # the long query did not squeeze the document out
    assert np.isfinite(scorer.score("q", [huge])).all()


def test_a_long_instruction_is_cut_before_the_query(scorer):
    with pytest.warns(UserWarning, match="instruction is cut"):
        ids = scorer.prompt.query_ids(QUERY, instruction="think very carefully " * 400)
    text = scorer.tokenizer.decode(ids)
    assert text.endswith(f"query: {QUERY}") and "instruction: think very carefully" in text
    assert len(ids) - len(scorer.prompt._prefix) == scorer.prompt.max_query_tokens  # the budget, filled


def test_rank_orders_and_cuts(scorer):
    ranked = scorer.rank(QUERY, DOCS, top_k=3)
    scores = scorer.score(QUERY, DOCS)
    assert [i for i, _ in ranked] == list(np.argsort(-scores, kind="stable")[:3])
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    with pytest.raises(ValueError, match="top_k"):
        scorer.rank(QUERY, DOCS, top_k=0)


def test_relevance_and_decision(scorer):
    scores = np.array([-3.0, 0.0, 2.5], dtype=np.float32)
    rel = scorer.relevance(scores)
    assert np.all((rel > 0) & (rel < 1)) and rel[1] == pytest.approx(0.5)
    assert list(scorer.decide(scores)) == [0, 0, 1]


def test_bad_inputs(scorer):
    assert scorer.score(QUERY, []).shape == (0,)
    assert np.isfinite(scorer.score("", ["", " "])).all()  # empty strings are scored, not dropped
    with pytest.raises(TypeError, match=r"documents\[1\]"):
        scorer.score(QUERY, ["ok", None, "ok"])
    with pytest.raises(TypeError, match=r"documents\[0\]"):
        scorer.score(QUERY, [3])
    with pytest.raises(TypeError, match="query"):
        scorer.score(None, ["doc"])
    with pytest.raises(TypeError, match="single str"):
        scorer.score(QUERY, "a string, not a list")
    with pytest.raises(ValueError, match="batch_size"):
        scorer.score(QUERY, ["doc"], batch_size=0)
    docs = list(DOCS)
    snapshot = copy.deepcopy(docs)
    scorer.score(QUERY, docs)
    assert docs == snapshot


def test_unknown_dtype_is_a_clear_error(tiny_model_dir):
    with pytest.raises(ValueError, match="unknown dtype 'bf32'"):
        ProRankScorer(tiny_model_dir, dtype="bf32", device="cpu")


def test_relevance_tokens_must_be_single_tokens(scorer):
    with pytest.raises(ValueError, match="single tokens"):
        ProRankPrompt(scorer.tokenizer, max_length=512, relevance_tokens=("yes it is", "0"))


def test_max_length_too_small_is_a_clear_error(scorer):
    with pytest.raises(ValueError, match="max_length"):
        ProRankPrompt(scorer.tokenizer, max_length=32)


def test_plan_batches_respects_size_and_token_budget():
    lengths = [10, 300, 20, 300, 5, 250]
    batches = plan_batches(lengths, batch_size=2, max_batch_tokens=600)
    assert sorted(i for b in batches for i in b) == list(range(6))
    for b in batches:
        assert len(b) <= 2 and max(lengths[i] for i in b) * len(b) <= 600
    assert batches[0] == [1, 3]  # longest first


def test_score_cache_skips_repeated_pairs(tiny_model_dir):
    cached = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512, cache_size=3)
    first = cached.score(QUERY, DOCS[:2])
    assert (cached.cache.hits, cached.cache.misses) == (0, 2)
    np.testing.assert_array_equal(cached.score(QUERY, DOCS[:2]), first)
    assert cached.cache.hits == 2
    cached.score(QUERY, DOCS[2:5])  # 3 new pairs push the oldest out (LRU of size 3)
    cached.score(QUERY, DOCS[:1])
    assert cached.cache.misses == 6
    cached.score("another query", DOCS[:1])  # the key covers the query, not only the document
    assert cached.cache.misses == 7


def test_out_of_memory_halves_the_batch(scorer, monkeypatch):
    import prorank_integrations.engine.scorer as mod

    real = mod.relevance_scores
    sizes = []

    def flaky(model, ids, mask, token_ids):
        sizes.append(ids.shape[0])
        if ids.shape[0] > 2:
            raise torch.OutOfMemoryError("simulated")
        return real(model, ids, mask, token_ids)

    monkeypatch.setattr(mod, "relevance_scores", flaky)
    got = scorer.score(QUERY, DOCS, batch_size=6)
    monkeypatch.setattr(mod, "relevance_scores", real)
    np.testing.assert_allclose(got, scorer.score(QUERY, DOCS, batch_size=1), atol=1e-4)
    assert sizes[:2] == [6, 3] and sum(s for s in sizes if s <= 2) == 6  # every pair scored once, in halves

    def always(model, ids, mask, token_ids):
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(mod, "relevance_scores", always)
    with pytest.raises(torch.OutOfMemoryError):
        scorer.score(QUERY, DOCS[:1])


def test_unusual_text_is_scored(scorer):
    mixed = ["héllo 世界 🙂 مرحبا Привет", "\u200b\u200b", "a\x00b", "bad \ud800 surrogate", "  \n\t "]
    scores = scorer.score("   ", mixed)  # whitespace query: scored like any text
    assert scores.shape == (5,) and np.isfinite(scores).all()
    # an unpaired surrogate is scored as U+FFFD, the caller's string is untouched
    fixed = scorer.score("q", ["bad \ufffd surrogate"])[0]
    assert scorer.score("q", ["bad \ud800 surrogate"])[0] == pytest.approx(fixed)
    assert np.isfinite(scorer.score("q\udfff", ["x"])).all()


def test_cpu_default_pads_nothing_and_gives_the_same_scores(tiny_model_dir, scorer):
    unpadded = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512, batch_size=4, cache_size=0)
    assert unpadded.padding is False and scorer.padding is True
    np.testing.assert_allclose(unpadded.score(QUERY, DOCS), scorer.score(QUERY, DOCS), atol=1e-4)
    assert plan_batches([5, 7, 5, 7, 6], 4, None, padding=False) == [[1, 3], [4], [0, 2]]


def test_packed_batches_give_the_scores_of_one_sequence_at_a_time(tiny_model_dir):
    one_by_one = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512, cache_size=0,
                               packing=False)
    packed = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512, cache_size=0)
    assert packed.packing is True and one_by_one.packing is False  # the CPU default
    lengths = [len(s) for s in packed.encode(QUERY, DOCS)]
    assert len(set(lengths)) > 2  # lengths differ, yet one packed batch holds them all
    assert plan_batches(lengths, 16, None, padding=False, packing=True) == [sorted(range(6), key=lambda i: -lengths[i])]
    np.testing.assert_allclose(packed.score(QUERY, DOCS), one_by_one.score(QUERY, DOCS), atol=1e-5)
    # the switched attention is plain SDPA for every call that does not pack: padded batches score as before
    ids, mask = left_pad(packed.encode(QUERY, DOCS), packed.pad_id)
    with torch.no_grad():
        padded = relevance_scores(packed.model, ids, mask, packed.prompt.token_ids).numpy()
    np.testing.assert_allclose(padded, one_by_one.score(QUERY, DOCS), atol=1e-4)


def test_packing_caps_batches_by_their_summed_length():
    assert plan_batches([5, 7, 5, 7, 6], 4, 12, padding=False, packing=True) == [[1], [3], [4, 0], [2]]
    assert plan_batches([5, 7, 5, 7, 6], 2, None, padding=False, packing=True) == [[1, 3], [4, 0], [2]]


def test_packing_refuses_a_model_without_sdpa_attention(tiny_model_dir):
    with pytest.raises(ValueError, match="packing needs a model with SDPA attention"):
        ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", packing=True,
                      model_kwargs={"attn_implementation": "eager"})
    eager = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", model_kwargs={"attn_implementation": "eager"})
    assert eager.packing is False and eager.score(QUERY, DOCS[:2]).shape == (2,)


def test_shared_engine_is_one_per_device_however_the_device_is_named(tiny_model_dir):
    from prorank_integrations.engine.scorer import auto_device, shared_scorer

    settings = dict(dtype="fp32", max_length=512)
    assert shared_scorer(tiny_model_dir, device=None, **settings) is shared_scorer(tiny_model_dir,
                                                                                   device=auto_device(), **settings)
    cpu = shared_scorer(tiny_model_dir, device="cpu", **settings)
    assert shared_scorer(tiny_model_dir, device=torch.device("cpu"), **settings) is cpu
    assert shared_scorer(tiny_model_dir, device="cpu", dtype="fp32", max_length=256) is not cpu


def test_a_model_in_memory_keeps_its_attention_unless_packing_is_asked_for(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prorank_integrations.engine.packing import PACKED

    lm = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    plain = ProRankScorer.from_model(lm, tokenizer, max_length=512)
    assert plain.packing is False and lm.config._attn_implementation == "sdpa"
    before = plain.score(QUERY, DOCS)
    packed = ProRankScorer.from_model(lm, tokenizer, max_length=512, packing=True)
    assert lm.config._attn_implementation == PACKED
    np.testing.assert_allclose(packed.score(QUERY, DOCS), before, atol=1e-5)
    np.testing.assert_allclose(plain.score(QUERY, DOCS), before, atol=1e-6)
