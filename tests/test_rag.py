"""The RAG benchmark through a real Haystack pipeline and a real LlamaIndex query engine (tiny models)."""

import json

import pytest

from prorank_integrations.bench.generation import LocalGenerator, make_generator, rag_messages
from prorank_integrations.bench.rag import ANSWER_METRICS, CONTEXT_METRICS, _means, ragas_scores, run_rag
from prorank_integrations.bench.rerankers import RerankerSpec
from prorank_integrations.data import sample_dataset


def test_ragas_scores_known_values():
    s = ragas_scores("q", "Paris", ["a", "b"], ["Paris is the capital", "dog"], ["a"], ["Paris is the capital"],
                     ["Paris", "paris city"])
    assert s["exact_match"] == 1.0 and s["string_present"] == 1.0
    assert s["id_based_context_recall"] == 1.0 and s["id_based_context_precision"] == 0.5
    miss = ragas_scores("q", "Berlin", ["b"], ["dog"], ["a"], ["Paris is the capital"], ["Paris"])
    assert miss["exact_match"] == 0.0 and miss["id_based_context_recall"] == 0.0


def test_generator_specs():
    with pytest.raises(ValueError, match="local:MODEL"):
        make_generator("gpt")
    msgs = rag_messages("Who?", ["ctx one", "ctx two"])
    assert msgs[0]["role"] == "system" and "[2] ctx two" in msgs[1]["content"] and "Who?" in msgs[1]["content"]


def test_rag_run_both_frameworks_resumable(tiny_model_dir, tmp_path):
    gen = LocalGenerator(tiny_model_dir, max_new_tokens=4)
    specs = [RerankerSpec.parse("none"), RerankerSpec.parse(f"tiny=prorank:{tiny_model_dir}+max_length=512")]
    ds = sample_dataset()
    summary = run_rag(ds, specs, gen, tmp_path, queries=2, depth=4, k=2, progress=False)
    for fw in ("haystack", "llama_index"):
        for label in ("none", "tiny"):
            r = summary["results"][fw][label]
            assert all(0.0 <= r["ragas"][m] <= 1.0 for m in CONTEXT_METRICS + ANSWER_METRICS)
            rows = [json.loads(x) for x in (tmp_path / fw / f"{label}.jsonl").read_text().splitlines()]
            assert len(rows) == 2 and all(len(row["context_ids"]) <= 2 for row in rows)
    before = (tmp_path / "haystack" / "tiny.jsonl").read_text()
    run_rag(ds, specs, gen, tmp_path, queries=2, depth=4, k=2, progress=False)
    assert (tmp_path / "haystack" / "tiny.jsonl").read_text() == before
    with pytest.raises(ValueError, match="k=2"):  # rows of top-2 contexts are not reused for top 3
        run_rag(ds, specs, gen, tmp_path, queries=2, depth=4, k=3, progress=False)
    other = "float32" if gen.precision == "bfloat16" else "bfloat16"  # auto resolves per machine
    with pytest.raises(ValueError, match=rf"generator=.* \({other}\)"):  # answers of another dtype: not mixed
        run_rag(ds, specs, LocalGenerator(tiny_model_dir, max_new_tokens=4, dtype=other), tmp_path, queries=2,
                depth=4, k=2, progress=False)
    assert (tmp_path / "table.md").exists() and (tmp_path / "rag_quality_latency.png").exists()
    stored = json.loads((tmp_path / "summary.json").read_text())
    assert stored["n_queries"] == 2 and stored["judge"] is None and "ragas" in stored["results"]["llama_index"]["tiny"]


def test_means_leave_out_and_count_unusable_judge_answers():
    rows = [{"faithfulness": 1.0, "exact_match": 1.0}, {"faithfulness": float("nan"), "exact_match": 0.0}]
    means, failures = _means(rows, ("exact_match", "faithfulness", "answer_relevancy"))
    assert means == {"exact_match": 0.5, "faithfulness": 1.0} and failures == {"faithfulness": 1}


@pytest.mark.integration
def test_judge_metrics_are_added_to_answered_rows_without_answering_again(tiny_model_dir, tmp_path):
    import subprocess
    import sys

    from prorank_integrations.bench.judge import JUDGE_METRICS, Judge

    subprocess.run([sys.executable, "-m", "prorank_integrations", "models", "fetch", "all-minilm-l6-v2", "--quiet"],
                   check=True)
    gen = LocalGenerator(tiny_model_dir, max_new_tokens=4)
    ds, specs = sample_dataset(), [RerankerSpec.parse("none")]
    run_rag(ds, specs, gen, tmp_path, queries=2, depth=4, k=2, frameworks=("haystack",), progress=False)
    answers = [json.loads(x)["answer"] for x in (tmp_path / "haystack" / "none.jsonl").read_text().splitlines()]
    judge = Judge(LocalGenerator(tiny_model_dir, max_new_tokens=24))
    summary = run_rag(ds, specs, gen, tmp_path, queries=2, depth=4, k=2, frameworks=("haystack",), judge=judge,
                      progress=False)
    rows = [json.loads(x) for x in (tmp_path / "haystack" / "none.jsonl").read_text().splitlines()]
    assert [r["answer"] for r in rows] == answers  # judged, not answered again
    assert all(m in r and (r[m] != r[m] or 0.0 <= r[m] <= 1.0) for r in rows for m in JUDGE_METRICS)
    result = summary["results"]["haystack"]["none"]
    for m in JUDGE_METRICS:  # a random tiny judge writes no usable JSON: counted, never a silent number
        nans = sum(r[m] != r[m] for r in rows)
        assert result["judge_failures"].get(m, 0) == nans and m in result["ragas"]
    assert summary["judge"] == judge.name and "judge" in (tmp_path / "table.md").read_text()
