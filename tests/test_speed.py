"""The speed benchmark's bookkeeping on the tiny model (timings themselves are never asserted)."""

import json

from prorank_integrations.bench.speed import run_speed, scaling_curves
from prorank_integrations.engine.scorer import ProRankScorer


def test_speed_report_and_scaling(tiny_model_dir, tmp_path):
    engine = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512)
    items = [("capital of france", ["Paris is the capital.", "dog", "France " * 50]), ("fox", ["the fox", ""])]
    summary = run_speed(engine, tiny_model_dir, items, tmp_path, repeats=2, peers=("naive", "mxbai-rerank"))
    rows = summary["rerankers"]
    assert set(rows) == {"exact", "naive"} and "mxbai-rerank" in summary["unavailable"]
    assert rows["exact"]["max_abs_diff_vs_naive"] < 1e-4 and rows["exact"]["rankings_identical_to_naive"] == 2
    assert summary["pairs"] == 5 and len(rows["exact"]["seconds_all"]) == 2
    assert json.loads((tmp_path / "summary.json").read_text())["rerankers"]["exact"]["pairs_per_s"] > 0
    assert "did not run" in (tmp_path / "table.md").read_text()
    curves = scaling_curves(engine, ["Paris is the capital of France.", "The lazy dog."], "q", tmp_path,
                            counts=(2, 4), lengths=(16, 32), docs_per_length=2)
    assert set(curves["seconds_by_documents"]) == {2, 4} and (tmp_path / "scaling.png").exists()
