"""Reranking a first-stage run in process and on a local Ray instance: same scores, faults, resume."""

import os
import sys
from pathlib import Path

import pytest

from prorank_integrations.data import sample_dataset
from prorank_integrations.distributed.rerank_run import ScoreQueries, read_run, rerank_run

OPTIONS = {"dtype": "fp32", "device": "cpu", "max_length": 512}


class CrashOnce(ScoreQueries):
    """Kills its own process the first time it sees a batch, as a lost node or OOM kill would."""

    def __init__(self, model, engine_options):
        opts = dict(engine_options)
        self.marker = Path(opts.pop("crash_marker"))
        super().__init__(model, opts)

    def __call__(self, batch):
        if not self.marker.exists():
            self.marker.write_text("crashed")
            os._exit(1)
        return super().__call__(batch)


@pytest.fixture(scope="module")
def run():
    ds = sample_dataset()
    return {q: list(ds.corpus)[i: i + 5] for i, q in enumerate(sorted(ds.queries)[:6])}


def _lines(path):
    return Path(path).read_text().splitlines()


def test_read_run_formats(tmp_path):
    trec = tmp_path / "r.trec"
    trec.write_text("q1 Q0 d2 2 1.5 bm25\nq1 Q0 d1 1 3.0 bm25\nq2 Q0 d3 1 0.1 bm25\n")
    assert read_run(trec) == {"q1": ["d1", "d2"], "q2": ["d3"]}
    assert read_run(trec, depth=1) == {"q1": ["d1"], "q2": ["d3"]}
    jl = tmp_path / "r.jsonl"
    jl.write_text('{"qid": "q1", "candidates": ["b", "a"]}\n')
    assert read_run(jl) == {"q1": ["b", "a"]}
    (tmp_path / "dup.trec").write_text("q1 Q0 d1 1 3.0 bm25\nq1 Q0 d2 2 2.0 bm25\nq1 Q0 d1 3 1.0 dense\n")
    with pytest.warns(UserWarning, match="1 repeated"):
        assert read_run(tmp_path / "dup.trec") == {"q1": ["d1", "d2"]}
    (tmp_path / "bad.trec").write_text("q1 d1 1\n")
    with pytest.raises(ValueError, match="expected"):
        read_run(tmp_path / "bad.trec")


def test_in_process_resume_and_exactly_once(tiny_model_dir, run, tmp_path):
    ds = sample_dataset()
    out = rerank_run(ds, dict(list(run.items())[:3]), tiny_model_dir, tmp_path / "a.trec", engine_options=OPTIONS)
    assert len(_lines(out)) == 15
    progress = (tmp_path / "a.trec.progress.jsonl").read_text()
    with (tmp_path / "a.trec.progress.jsonl").open("a") as f:
        f.write('{"qid": "cut-off-li')  # a line cut by an interruption is ignored and recomputed
    out = rerank_run(ds, run, tiny_model_dir, tmp_path / "a.trec", engine_options=OPTIONS)
    assert (tmp_path / "a.trec.progress.jsonl").read_text().startswith(progress)  # first 3 not recomputed
    pairs = [(line.split()[0], line.split()[2]) for line in _lines(out)]
    assert len(pairs) == 30 and len(set(pairs)) == 30
    with pytest.raises(KeyError, match="not in"):
        rerank_run(ds, {"nope": ["0-0"]}, tiny_model_dir, tmp_path / "b.trec", engine_options=OPTIONS)
    with pytest.raises(ValueError, match="was computed with"):
        rerank_run(ds, run, tiny_model_dir, tmp_path / "a.trec", engine_options={**OPTIONS, "max_length": 256})
    first = next(iter(run))
    with pytest.raises(ValueError, match="other candidates"):
        rerank_run(ds, {first: run[first][:2]}, tiny_model_dir, tmp_path / "a.trec", engine_options=OPTIONS)


@pytest.mark.skipif(sys.platform != "linux", reason="local Ray instance")
def test_ray_survives_a_killed_actor_and_matches_in_process(tiny_model_dir, run, tmp_path):
    import ray

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ds = sample_dataset()
    local = rerank_run(ds, run, tiny_model_dir, tmp_path / "local.trec", engine_options=OPTIONS)
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        crashed = rerank_run(ds, run, tiny_model_dir, tmp_path / "crash.trec", use_ray=True, queries_per_batch=2,
                             engine_options={**OPTIONS, "crash_marker": str(tmp_path / "marker")},
                             scorer_cls=CrashOnce)
        assert (tmp_path / "marker").exists()  # the actor really died once
        assert _lines(crashed) == _lines(local)  # retried: every (query, document) exactly once, same scores
    finally:
        ray.shutdown()


def test_core_package_does_not_import_ray():
    import subprocess

    code = ("import sys, prorank_integrations.engine.scorer, prorank_integrations.haystack, "
            "prorank_integrations.llama_index; print('ray' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
