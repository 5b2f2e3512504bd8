"""The speed benchmark's bookkeeping on the tiny model (timings themselves are never asserted)."""

import json

import numpy as np
import pytest

from prorank_integrations.bench.speed import cache_session, layout_row, run_speed, scaling_curves
from prorank_integrations.engine.scorer import ProRankScorer


def test_speed_report_and_scaling(tiny_model_dir, tmp_path):
    engine = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512)
    items = [("capital of france", ["Paris is the capital.", "dog", "France " * 50]), ("fox", ["the fox", ""])]
    summary = run_speed(engine, tiny_model_dir, items, tmp_path, repeats=2, peers=("naive", "mxbai-rerank"),
                        fast_modes=("prefix", "prefix,int8"), memory=True)
    rows = summary["results"]
    import importlib.util

    has_mxbai = importlib.util.find_spec("mxbai_rerank") is not None  # optional peer, not a project dependency
    expected = {"exact", "exact-unpacked", "naive", "fast-prefix", "fast-prefix+int8"}
    expected |= {"mxbai-rerank"} if has_mxbai else set()
    assert set(rows) == expected
    assert ("mxbai-rerank" in summary["unavailable"]) != has_mxbai
    assert rows["fast-prefix"]["max_abs_diff_vs_exact"] < 1e-4
    assert rows["fast-prefix"]["max_abs_diff_vs_naive"] < 1e-4 and rows["fast-prefix"]["rankings_identical_to_naive"]
    assert set(summary["engine_peak_rss_mb"]) == {"exact", "fast-prefix", "fast-prefix+int8"}
    assert all(100 < mb < 4000 for mb in summary["engine_peak_rss_mb"].values())
    assert rows["exact"]["max_abs_diff_vs_naive"] < 1e-4 and rows["exact"]["rankings_identical_to_naive"] == 2
    assert rows["exact-unpacked"]["max_abs_diff_vs_exact"] < 1e-5  # packing changes the speed, not the scores
    assert summary["pairs"] == 5 and len(rows["exact"]["seconds_all"]) == 2
    assert json.loads((tmp_path / "summary.json").read_text())["rerankers"]["exact"]["pairs_per_s"] > 0
    assert ("did not run" in (tmp_path / "table.md").read_text()) != has_mxbai
    curves = scaling_curves(engine, ["Paris is the capital of France.", "The lazy dog."], "q", tmp_path,
                            counts=(2, 4), lengths=(16, 32), docs_per_length=2)
    assert set(curves["seconds_by_documents"]) == {2, 4} and (tmp_path / "scaling.png").exists()


def test_score_cache_session_counts_repeats(tiny_model_dir, tmp_path):
    engine = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512, cache_size=7)
    items = [(f"question {i}", [f"doc {i} {j}" for j in range(3)]) for i in range(4)]
    result = cache_session(engine, items, requests=10, seed=1, out=tmp_path)
    distinct = result["distinct_questions"]
    assert result["without_cache"]["misses"] == 30 and result["without_cache"]["hits"] == 0
    assert result["with_cache"]["misses"] == 3 * distinct and result["with_cache"]["hits"] == 30 - 3 * distinct
    assert engine.cache.size == 7 and (tmp_path / "score_cache.json").exists()


def test_reference_dtype_judges_rows_against_fp32(tiny_model_dir, tmp_path):
    engine = ProRankScorer(tiny_model_dir, dtype="bf16", device="cpu", max_length=512)
    items = [("capital of france", ["Paris is the capital.", "dog", "France " * 50, "cat"]), ("fox", ["the fox", "x"])]
    summary = run_speed(engine, tiny_model_dir, items, tmp_path, repeats=1, peers=("naive",), reference_dtype="fp32")
    rows = summary["results"]
    assert set(rows) == {"exact", "exact-unpacked", "naive"}  # the reference is not a timed row
    scores = json.loads((tmp_path / "scores.json").read_text())["scores"]
    assert set(scores) == {"exact", "exact-unpacked", "naive", "naive-fp32"}
    truth = [np.array(s) for s in scores["naive-fp32"]]
    fp32 = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512)
    for (query, texts), expected in zip(items, truth):
        np.testing.assert_allclose(fp32.score(query, texts), expected, atol=1e-4)
    for row in rows.values():
        assert 0 < row["max_abs_diff_vs_naive-fp32"] < 0.5  # bf16 rounding, measured against the fp32 truth
        assert -1 <= row["kendall_tau_vs_naive-fp32"] <= 1
    diff = max(float(np.abs(np.array(a) - b).max()) for a, b in zip(scores["exact"], truth))
    assert rows["exact"]["max_abs_diff_vs_naive-fp32"] == pytest.approx(diff)
    assert "Kendall tau vs naive-fp32" in (tmp_path / "table.md").read_text()


def test_layout_rows_are_timed_but_not_compared_with_another_prompt(tiny_model_dir, tmp_path):
    engine = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512)
    items = [("capital of france", ["Paris is the capital.", "dog", "France " * 50]), ("fox", ["the fox", "x"])]
    summary = run_speed(engine, tiny_model_dir, items, tmp_path, repeats=1, peers=("naive",),
                        layouts=("query-first", "query-first:prefix,int8"))
    all_scores = json.loads((tmp_path / "scores.json").read_text())["scores"]
    for label, fast in (("fast-prefix+query-first", "prefix"), ("fast-prefix+int8+query-first", "prefix,int8")):
        row = summary["results"][label]
        assert row["pairs_per_s"] > 0 and not any(k.startswith("max_abs_diff") for k in row)
        query_first = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512,
                                    prompt_layout="query-first", fast=fast)
        for (query, texts), got in zip(items, all_scores[label]):
            np.testing.assert_allclose(got, query_first.score(query, texts), atol=1e-4)
        assert f"| {label} |" in (tmp_path / "table.md").read_text()
    assert not np.allclose(all_scores["exact"][0], all_scores["fast-prefix+query-first"][0], atol=1e-4)


def test_layout_row_spec():
    assert layout_row("query-first") == ("fast-prefix+query-first", "query-first", "prefix")
    assert layout_row("query-first:compile,prefix") == ("fast-prefix+compile+query-first", "query-first",
                                                        "compile,prefix")
    with pytest.raises(ValueError, match="unknown fast mode"):
        layout_row("query-first:turbo")
