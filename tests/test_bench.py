"""BEIR loading, first stage, reranker specs, metrics and a resumable benchmark run (tiny model, bundled sample)."""

import json

import numpy as np
import pytest

from prorank_integrations.bench.data import load_beir, subset, write_beir
from prorank_integrations.bench.first_stage import BM25Retriever
from prorank_integrations.bench.metrics import evaluate_run, expected_random_order, mean_metrics
from prorank_integrations.bench.rerankers import RerankerSpec
from prorank_integrations.bench.retrieval import run_retrieval
from prorank_integrations.bench.rows import bound_rows
from prorank_integrations.data import SAMPLE_DIR, sample_dataset


def test_sample_loads_and_round_trips(tmp_path):
    ds = sample_dataset()
    assert len(ds.queries) == 40 and len(ds.corpus) == 330 and len(ds.answers) == 40
    assert all(d in ds.corpus for rels in ds.qrels.values() for d in rels)
    again = load_beir(write_beir(ds, tmp_path / "copy"))
    assert again.corpus == ds.corpus and again.qrels == ds.qrels and again.answers == ds.answers
    small = subset(ds, sorted(ds.queries)[:2], [])
    assert set(small.queries) == set(sorted(ds.queries)[:2]) and len(small.corpus) <= 2


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus.jsonl"):
        load_beir(tmp_path)


def test_sampling_is_deterministic():
    ds = sample_dataset()
    assert ds.sample_queries(5, seed=3) == ds.sample_queries(5, seed=3)
    assert ds.sample_queries(5, seed=3) != ds.sample_queries(5, seed=4)


def test_bm25_finds_gold_paragraphs():
    ds = sample_dataset()
    qids = sorted(ds.queries)
    hits = BM25Retriever(ds).search([ds.queries[q] for q in qids], k=10)
    found = sum(any(d in ds.qrels[q] for d, _ in row) for q, row in zip(qids, hits))
    assert found >= 30  # the sample holds each question's BM25 top-10, so most golds are there


def test_metrics_known_values():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run = {"q1": {"a": 3.0, "x": 2.0, "y": 1.0}, "q2": {"x": 3.0, "y": 2.0, "b": 1.0}}
    per = evaluate_run(qrels, run)
    assert per["q1"]["ndcg@10"] == pytest.approx(1.0) and per["q1"]["mrr@10"] == pytest.approx(1.0)
    assert per["q2"]["ndcg@10"] == pytest.approx(0.5) and per["q2"]["mrr@10"] == pytest.approx(1 / 3)
    assert mean_metrics(per)["mrr@10"] == pytest.approx(2 / 3)


def test_expected_random_order_matches_sampled_orders():
    """The closed form equals the mean over 4,000 random orders scored with pytrec_eval (12 candidates: two relevant
    among them, one relevant outside them, and a query whose candidates hold nothing relevant)."""
    qrels = {"q": {"a": 1, "b": 1, "z": 1}, "none": {"z": 1}}
    docs = ["a", "b"] + [f"n{i}" for i in range(10)]
    rng = np.random.default_rng(0)
    orders = [rng.permutation(docs) for _ in range(4000)]
    sampled = [evaluate_run(qrels, {"q": {d: -i for i, d in enumerate(o)}})["q"] for o in orders]
    expected = expected_random_order(qrels, {"q": docs, "none": docs})
    assert expected["ndcg@10"] * 2 == pytest.approx(np.mean([m["ndcg@10"] for m in sampled]), abs=0.01)
    assert expected["mrr@10"] * 2 == pytest.approx(np.mean([m["mrr@10"] for m in sampled]), abs=0.01)
    single = expected_random_order({"q": {"a": 1}}, {"q": docs})  # one relevant among n: sum_{p<=10} 1/(n p)
    assert single["mrr@10"] == pytest.approx(sum(1 / (12 * p) for p in range(1, 11)))


def test_spec_language():
    s = RerankerSpec.parse("trained=prorank:base+adapter=/a/b+max_length=256")
    assert (s.label, s.kind, s.model, s.options) == ("trained", "prorank", "base", {"adapter": "/a/b",
                                                                                    "max_length": "256"})
    assert RerankerSpec.parse("none").label == "none"
    plus = RerankerSpec.parse("stage1+2=prorank:base+adapter=a/stage1+2")  # "+" in a label and in a path value
    assert (plus.label, plus.model, plus.options) == ("stage1+2", "base", {"adapter": "a/stage1+2"})
    unlabelled = RerankerSpec.parse("prorank:base+adapter=x+fast=prefix,int8")
    assert unlabelled.label == "prorank:base+adapter=x+fast=prefix,int8" and unlabelled.options["fast"] == "prefix,int8"
    assert RerankerSpec.parse("bi-encoder:all-minilm-l6-v2").label == "bi-encoder:all-minilm-l6-v2"
    for bad in ("magic:x", "prorank:", "prorank:m+adapter", "prorank:m+turbo=1"):
        with pytest.raises(ValueError):
            RerankerSpec.parse(bad)


def test_retrieval_run_is_resumable_and_reports(tiny_model_dir, tmp_path):
    specs = [RerankerSpec.parse("bm25=none"), RerankerSpec.parse(f"tiny=prorank:{tiny_model_dir}+max_length=512")]
    ds = load_beir(SAMPLE_DIR)
    summary = run_retrieval(ds, specs, tmp_path, queries=4, seed=0, depth=5, progress=False)
    assert set(summary["rerankers"]) == {"bm25", "tiny"}
    rows = [json.loads(line) for line in (tmp_path / "tiny.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(len(r["ranking"]) == 5 for r in rows)
    assert all(r["scores"] == sorted(r["scores"], reverse=True) for r in rows)
    first = (tmp_path / "tiny.jsonl").read_text()
    again = run_retrieval(ds, specs, tmp_path, queries=4, seed=0, depth=5, progress=False)
    assert (tmp_path / "tiny.jsonl").read_text() == first  # nothing recomputed
    assert again["rerankers"]["tiny"]["ndcg@10"] == summary["rerankers"]["tiny"]["ndcg@10"]
    for name in ("summary.json", "per_query.json", "table.md", "quality_latency.png"):
        assert (tmp_path / name).exists()
    assert "| bm25 | `none` |" in (tmp_path / "table.md").read_text()
    stored = json.loads((tmp_path / "summary.json").read_text())
    assert stored["n_queries"] == 4 and stored["candidates"] == 5 and "torch" in stored["versions"]
    assert set(stored["results"]["tiny"]) >= {"ndcg@10", "mrr@10", "recall@10", "ms_per_query"}


def test_cached_only_summary_reports_finished_rows_and_computes_nothing(tiny_model_dir, tmp_path):
    ds = load_beir(SAMPLE_DIR)
    run_retrieval(ds, [RerankerSpec.parse("bm25=none")], tmp_path / "cache", queries=4, depth=5, progress=False)
    tiny = RerankerSpec.parse(f"tiny=prorank:{tiny_model_dir}+max_length=512")
    run_retrieval(ds, [tiny], tmp_path / "cache", queries=4, subset=2, depth=5, progress=False)
    summary = run_retrieval(ds, [RerankerSpec.parse("bm25=none"), tiny], tmp_path / "out", queries=4, depth=5,
                            cache_dir=tmp_path / "cache", cached_only=True, progress=False)
    assert list(summary["results"]) == ["bm25"] and summary["incomplete"] == ["tiny"]
    assert len((tmp_path / "cache" / "tiny.jsonl").read_text().splitlines()) == 2  # the missing two not computed
    half = run_retrieval(ds, [tiny], tmp_path / "half", queries=4, subset=2, depth=5, cache_dir=tmp_path / "cache",
                         cached_only=True, progress=False)
    assert half["incomplete"] == [] and half["n_queries"] == 2


def test_cached_rows_belong_to_one_spec(tiny_model_dir, tmp_path):
    ds = load_beir(SAMPLE_DIR)
    run_retrieval(ds, [RerankerSpec.parse("row=none")], tmp_path, queries=2, depth=5, progress=False)
    assert (tmp_path / "row.spec").read_text().strip() == "none"
    other = RerankerSpec.parse(f"row=prorank:{tiny_model_dir}+max_length=512")
    with pytest.raises(ValueError, match="holds rows of 'none'"):
        run_retrieval(ds, [other], tmp_path, queries=2, depth=5, progress=False)
    with pytest.raises(ValueError, match="another label"):
        run_retrieval(ds, [other], tmp_path / "out", queries=2, depth=5, cache_dir=tmp_path, cached_only=True,
                      progress=False)
    (tmp_path / "row.spec").unlink()  # rows cached before specs were recorded are adopted by the next spec
    run_retrieval(ds, [RerankerSpec.parse("row=none")], tmp_path, queries=2, depth=5, progress=False)
    assert (tmp_path / "row.spec").read_text().strip() == "none"


def test_cached_rows_of_other_candidates_are_refused(tmp_path):
    ds = load_beir(SAMPLE_DIR)
    run_retrieval(ds, [RerankerSpec.parse("bm25=none")], tmp_path, queries=2, depth=5, progress=False)
    with pytest.raises(ValueError, match="other candidates"):
        run_retrieval(ds, [RerankerSpec.parse("bm25=none")], tmp_path, queries=2, depth=8, progress=False)


def test_an_unlabelled_spec_naming_a_path_gets_a_safe_rows_file(tiny_model_dir, tmp_path):
    spec = RerankerSpec.parse(f"prorank:{tiny_model_dir}+max_length=512")
    assert "/" not in spec.rows_file and ":" not in spec.rows_file
    summary = run_retrieval(load_beir(SAMPLE_DIR), [spec], tmp_path, queries=2, depth=5, progress=False)
    assert list(summary["results"]) == [spec.label] and (tmp_path / spec.rows_file).exists()


def test_spec_settings_change_with_the_adapter_weights(tmp_path):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    (folder / "adapter_model.safetensors").write_bytes(b"weights v1")
    by_option = RerankerSpec.parse(f"a=prorank:base+adapter={folder}")
    by_folder = RerankerSpec.parse(f"a=prorank:{folder}")
    first = by_option.settings()
    assert first.startswith(by_option.text + " | adapter weights sha256:")
    assert by_folder.settings().split(" | ")[1] == first.split(" | ")[1]
    (folder / "adapter_model.safetensors").write_bytes(b"weights v2")  # retrained in place
    assert by_option.settings() != first
    assert RerankerSpec.parse("bm25=none").settings() == "none"
    rows = tmp_path / "a.jsonl"
    rows.write_text('{"qid": "q1", "ranking": []}\n')
    assert list(bound_rows(rows, first)) == ["q1"]  # adopted by the settings that computed them
    with pytest.raises(ValueError, match="weights v1|another label"):
        bound_rows(rows, by_option.settings())


@pytest.mark.integration
def test_dense_first_stage_with_the_local_minilm():
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "prorank_integrations", "models", "fetch", "all-minilm-l6-v2", "--quiet"],
                   check=True)
    from prorank_integrations.bench.first_stage import first_stage

    ds = sample_dataset()
    qids = sorted(ds.queries)
    hits = first_stage("dense", ds).search([ds.queries[q] for q in qids], k=10)
    assert all(len(row) == 10 and row[0][1] >= row[-1][1] for row in hits)
    found = sum(any(d in ds.qrels[q] for d, _ in row) for q, row in zip(qids, hits))
    assert found >= 25  # a real embedder finds most gold paragraphs among the 330 (chance: about 1 in 33 each)


def test_st_causal_spec_gives_the_engines_scores(tiny_model_dir):
    from prorank_integrations.bench.rerankers import build_reranker

    ds = load_beir(SAMPLE_DIR)
    q = sorted(ds.queries)[0]
    texts = [ds.doc_text(d) for d in sorted(ds.corpus)[:5]]
    st = build_reranker(RerankerSpec.parse(f"st=st-causal:{tiny_model_dir}+max_length=512"))
    ours = build_reranker(RerankerSpec.parse(f"prorank:{tiny_model_dir}+max_length=512"))
    np.testing.assert_allclose(st.score(ds.queries[q], texts), ours.score(ds.queries[q], texts), atol=1e-3)


def test_rows_record_the_dtype_they_were_computed_in(tiny_model_dir, tmp_path):
    ds = load_beir(SAMPLE_DIR)
    tiny = RerankerSpec.parse(f"tiny=prorank:{tiny_model_dir}+max_length=512+dtype=fp32")
    summary = run_retrieval(ds, [RerankerSpec.parse("bm25=none"), tiny], tmp_path, queries=4, depth=5,
                            progress=False)
    assert summary["rerankers"]["tiny"]["dtypes"] == {"float32": 4} and "dtypes" not in summary["rerankers"]["bm25"]
    path = tmp_path / "tiny.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows[:2]:  # rows cached before the dtype was recorded
        del row["dtype"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    again = run_retrieval(ds, [tiny], tmp_path, queries=4, depth=5, progress=False)
    assert again["rerankers"]["tiny"]["dtypes"] == {"float32": 2, "unrecorded": 2}
    assert "tiny mixes dtypes across questions: float32 2, unrecorded 2" in (tmp_path / "table.md").read_text()
