"""Both training stages end to end on the tiny model; the data builder; adapters reload with the same scores."""

import contextlib
import json
from dataclasses import asdict
from unittest import mock

import numpy as np
import pytest

from prorank_integrations.bench.data import BeirDataset, load_beir, subset
from prorank_integrations.data import SAMPLE_DIR
from prorank_integrations.engine.scorer import ProRankScorer
from prorank_integrations.training.config import TrainConfig
from prorank_integrations.training.data import build_groups
from prorank_integrations.training.warmup import answer_positions_only, make_rewards


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    """The sample's first 30 questions as a 'training set' folder (the last 10 act as an evaluation set)."""
    ds = load_beir(SAMPLE_DIR)
    qids = sorted(ds.queries)
    from prorank_integrations.bench.data import write_beir

    root = tmp_path_factory.mktemp("data")
    write_beir(subset(ds, qids[:30], list(ds.corpus), name="train"), root / "train")
    write_beir(subset(ds, qids[30:], list(ds.corpus), name="evalset"), root / "evalset")
    return root


def test_groups_never_leak_evaluation_questions_or_positives(train_dir):
    train_ds, eval_ds = load_beir(train_dir / "train"), load_beir(train_dir / "evalset")
    leaky = BeirDataset("train", train_ds.corpus, {**train_ds.queries, **eval_ds.queries},
                        {**train_ds.qrels, **eval_ds.qrels})
    train, val = build_groups(leaky, n_negatives=3, depth=10, exclude=[eval_ds])
    eval_texts = set(eval_ds.queries.values())
    assert train and val
    for g in train + val:
        assert g.query not in eval_texts
        assert g.positive_id not in g.negative_ids
        assert not set(g.negative_ids) & set(leaky.qrels[g.qid])
        assert len(g.negatives) == 3
    assert not {g.positive_id for g in train} & {g.positive_id for g in val}  # split by paragraph
    with pytest.raises(ValueError, match="evaluation set"):
        build_groups(BeirDataset("squadshifts-reddit", {}, {}, {}))


def test_rewards():
    (fmt, acc), weights = make_rewards(("1", "0"), 0.5, 1.0)
    assert fmt(["1", "0", " 1", "yes", "1\n", "10"]) == [1, 1, 0, 0, 1, 0]
    assert acc(["1", "0", "1", "x"], label=[1, 1, 0, 0]) == [1, 0, 0, 0]
    assert weights == [0.5, 1.0]


def test_answer_positions_only_gives_trls_log_probs_and_gradients(tiny_model_dir):
    import torch
    import trl.trainer.utils as trl_utils
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    add_fused_lm_head(model)
    ids = torch.randint(0, model.config.vocab_size, (3, 40), generator=torch.Generator().manual_seed(0))
    labels = ids.clone()
    labels[:, :-2] = -100  # a prompt and a 2-token answer, as in stage 1
    head = trl_utils._ChunkedLogProbFunction
    runs, projected = [], []
    for context in (contextlib.nullcontext(), answer_positions_only()):
        model.zero_grad()
        with context, mock.patch.object(head, "apply", side_effect=head.apply) as apply:
            out = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels, fused_lm_head=True)
        out.loss.backward()
        runs.append((out.log_probs.detach(), model.lm_head.weight.grad.clone()))
        projected.append(apply.call_args.args[0].shape[0])
    assert projected == [3 * 39, 3 * 2]  # every position of the 40 has a next token but the last; the answers only
    (full, full_grad), (answers, answers_grad) = runs
    assert full[:, -2:].abs().min() > 0 and torch.count_nonzero(full[:, :-2]) == 0  # the answers only, both ways
    torch.testing.assert_close(answers, full)
    torch.testing.assert_close(answers_grad, full_grad)


def _cfg(tmp_path, tiny_model_dir, train_dir, name, **kw):
    settings = dict(output_dir=str(tmp_path / name), base_model=tiny_model_dir, data=str(train_dir / "train"),
                    exclude=[str(train_dir / "evalset")], dtype="fp32", max_length=512, n_negatives=3, depth=10,
                    max_groups=6, eval_groups=3, lora_layers=1, lora_r=4, grad_accum=2, save_every=1)
    return TrainConfig(**{**settings, **kw})


def test_stage1_then_stage2_end_to_end_and_adapter_reloads(tmp_path, tiny_model_dir, train_dir):
    from prorank_integrations.training.score import train_score
    from prorank_integrations.training.warmup import train_warmup

    stage1 = train_warmup(_cfg(tmp_path, tiny_model_dir, train_dir, "s1", grpo_prompts_per_step=1,
                               num_generations=2), progress=False)
    assert (stage1 / "adapter_config.json").exists()
    log1 = [json.loads(x) for x in (tmp_path / "s1" / "train_log.jsonl").read_text().splitlines()]
    assert any("rewards/format_reward/mean" in r for r in log1) and log1[-1]["event"] == "end"

    stage2 = train_score(_cfg(tmp_path, tiny_model_dir, train_dir, "s12", init_adapter=str(stage1),
                              learning_rate=5e-2, lora_layers=None, lora_r=8), progress=False)  # both unused
    log2 = [json.loads(x) for x in (tmp_path / "s12" / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in log2 if r["event"] == "step"]
    assert len(steps) == 3 and all(np.isfinite(r["loss"]) for r in steps)
    assert all(np.isfinite(r["grad_norm"]) and r["grad_norm"] > 0 for r in steps)  # the norm before clipping, logged
    assert not list((tmp_path / "s12").glob("checkpoint-*"))  # cleaned up after the final adapter

    config = json.loads((stage2 / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == tiny_model_dir
    docs = ["Paris is the capital of France.", "the lazy dog", ""]
    base = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512).score("capital", docs)
    trained = ProRankScorer(str(stage2), dtype="fp32", device="cpu", max_length=512).score("capital", docs)
    assert not np.allclose(base, trained, atol=1e-4)  # training changed the scores

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(stage2)).eval()
    tok = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512).tokenizer
    unmerged = ProRankScorer.from_model(model, tok, max_length=512).score("capital", docs)
    np.testing.assert_allclose(trained, unmerged, atol=1e-4)  # the served (merged) model scores as trained

    from prorank_integrations.training.export import export_adapter, export_merged

    exported = export_adapter(tmp_path / "s12", tmp_path / "exported", name="tiny-prorank")
    card = (exported / "README.md").read_text()
    assert "tiny-prorank" in card and "LoRA: r=4, alpha=32, decoder layers: layer 1;" in card  # stage 1's LoRA
    compact = ProRankScorer(str(exported), dtype="fp32", device="cpu", max_length=512).score("capital", docs)
    np.testing.assert_allclose(compact, trained, atol=5e-3)  # bf16 storage of the LoRA weights (~0.4% each)
    merged = export_merged(stage2, tmp_path / "merged", dtype="fp32")
    full = ProRankScorer(str(merged), dtype="fp32", device="cpu", max_length=512).score("capital", docs)
    np.testing.assert_allclose(full, trained, atol=1e-5)


def test_stage2_resume_after_interruption_equals_uninterrupted_run(tmp_path, tiny_model_dir, train_dir,
                                                                     monkeypatch):
    from safetensors.torch import load_file

    from prorank_integrations.training import score

    full = score.train_score(_cfg(tmp_path, tiny_model_dir, train_dir, "full", learning_rate=5e-2), progress=False)
    calls = {"n": 0}
    real_loss = score.group_loss

    def interrupt_at_fifth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt  # the session ends in the middle of step 3
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(score, "group_loss", interrupt_at_fifth)
    cfg = _cfg(tmp_path, tiny_model_dir, train_dir, "resumed", learning_rate=5e-2)
    with pytest.raises(KeyboardInterrupt):
        score.train_score(cfg, progress=False)
    assert [p.name for p in (tmp_path / "resumed").glob("checkpoint-*")] == ["checkpoint-4"]
    monkeypatch.setattr(score, "group_loss", real_loss)
    resumed = score.train_score(cfg, progress=False)
    a, b = load_file(str(full / "adapter_model.safetensors")), load_file(str(resumed / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), atol=1e-6)


def test_stage2_a_last_shorter_accumulation_window_still_steps(tmp_path, tiny_model_dir, train_dir):
    from prorank_integrations.training.score import train_score

    train_score(_cfg(tmp_path, tiny_model_dir, train_dir, "odd", max_groups=5, grad_accum=2), progress=False)
    steps = [json.loads(x) for x in (tmp_path / "odd" / "train_log.jsonl").read_text().splitlines()
             if '"step"' in x]
    assert [(s["step"], s["groups_done"]) for s in steps] == [(1, 2), (2, 4), (3, 5)]
    assert steps[-1]["lr"] == 0.0  # the linear schedule ran to its end: the fifth group made an optimiser step
    with pytest.raises(ValueError, match="other settings .*learning_rate: 0.0002 -> 0.001"):
        train_score(_cfg(tmp_path, tiny_model_dir, train_dir, "odd", max_groups=5, grad_accum=2, learning_rate=1e-3),
                    progress=False)
    again = train_score(_cfg(tmp_path, tiny_model_dir, train_dir, "odd", max_groups=5, grad_accum=2, save_every=9),
                        progress=False)  # a setting that does not change what is trained
    assert again == tmp_path / "odd" / "adapter"


def _torchrun_two_processes(stage: str, cfg: TrainConfig, tmp_path) -> None:
    """``prorank train STAGE`` as users launch it on CPUs: torchrun, two processes (gloo)."""
    import os
    import subprocess
    import sys

    config = tmp_path / f"{stage}.json"
    config.write_text(json.dumps(asdict(cfg)))
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                    "-m", "prorank_integrations", "train", stage, "--config", str(config)], check=True, env=env)


def test_stage2_on_two_processes_equals_one_process_accumulating_the_same_groups(tmp_path, tiny_model_dir,
                                                                                  train_dir):
    """Data parallel is real: two torchrun processes (gloo, CPU) average their gradients before each step."""
    from safetensors.torch import load_file

    from prorank_integrations.training.score import train_score

    one = train_score(_cfg(tmp_path, tiny_model_dir, train_dir, "one", max_groups=8, learning_rate=5e-2),
                      progress=False)
    two = _cfg(tmp_path, tiny_model_dir, train_dir, "two", max_groups=8, learning_rate=5e-2, grad_accum=1)
    _torchrun_two_processes("score", two, tmp_path)
    start = json.loads((tmp_path / "two" / "train_log.jsonl").read_text().splitlines()[0])
    assert start["processes"] == 2
    a, b = load_file(str(one / "adapter_model.safetensors")), load_file(str(tmp_path / "two" / "adapter" /
                                                                            "adapter_model.safetensors"))
    for k in a:  # summation order: ~1e-6; without the all-reduce (each process on its own group): 0.11 apart
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), atol=1e-5)


def test_stage2_refuses_accelerate_mixed_precision(tmp_path, tiny_model_dir, train_dir, monkeypatch):
    from accelerate.state import AcceleratorState

    from prorank_integrations.training.score import train_score

    AcceleratorState._reset_state(reset_partial_state=True)
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    try:
        with pytest.raises(ValueError, match="without --mixed_precision bf16"):
            train_score(_cfg(tmp_path, tiny_model_dir, train_dir, "mp"), progress=False)
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


def test_stage1_on_two_processes_saves_one_adapter_and_one_log(tmp_path, tiny_model_dir, train_dir):
    """Under a launcher only the main process claims the folder, builds the groups, logs, evaluates and saves."""
    cfg = _cfg(tmp_path, tiny_model_dir, train_dir, "w2", max_groups=4, grpo_prompts_per_step=1, num_generations=2)
    _torchrun_two_processes("warmup", cfg, tmp_path)
    log = [json.loads(x) for x in (tmp_path / "w2" / "train_log.jsonl").read_text().splitlines()]
    assert [r["event"] for r in log].count("end") == 1 and log[-1]["event"] == "end"
    steps = [r["step"] for r in log if r["event"] == "step" and "train_runtime" not in r]  # not the summary
    assert steps == sorted(set(steps)) and steps  # one line per step, not one per process
    assert (tmp_path / "w2" / "adapter" / "adapter_config.json").exists()


@pytest.mark.integration
def test_cross_encoder_baseline_trains_on_the_same_groups(tmp_path, train_dir):
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "prorank_integrations", "models", "fetch", "all-minilm-l6-v2", "--quiet"],
                   check=True)
    from prorank_integrations.bench.rerankers import CrossEncoderReranker
    from prorank_integrations.training.cross_encoder import train_cross_encoder

    cfg = TrainConfig(output_dir=str(tmp_path / "ce"), data=str(train_dir / "train"), exclude=[], n_negatives=3,
                      depth=10, max_groups=8, eval_groups=3, max_length=128)
    model_dir = train_cross_encoder(cfg, batch_size=4, progress=False)
    end = json.loads((tmp_path / "ce" / "train_log.jsonl").read_text().splitlines()[-1])
    assert end["stage"] == "cross-encoder" and end["groups"] == 8 and 0 <= end["val_mrr@10"] <= 1
    scores = CrossEncoderReranker(str(model_dir)).score("capital of France", ["Paris is the capital.", "A dog."])
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_prompt_layout_is_recorded_and_served(tmp_path, tiny_model_dir, train_dir):
    from prorank_integrations.training.export import export_adapter, export_merged
    from prorank_integrations.training.score import train_score

    adapter = train_score(_cfg(tmp_path, tiny_model_dir, train_dir, "qf", learning_rate=5e-2,
                               prompt_layout="query-first"), progress=False)
    assert json.loads((adapter / "prorank.json").read_text()) == {"prompt_layout": "query-first"}
    docs = ["Paris is the capital of France.", "the lazy dog", ""]
    served = ProRankScorer(str(adapter), dtype="fp32", device="cpu", max_length=512)
    assert served.prompt_layout == "query-first"
    published = ProRankScorer(str(adapter), dtype="fp32", device="cpu", max_length=512, prompt_layout="published")
    assert not np.allclose(served.score("capital", docs), published.score("capital", docs), atol=1e-4)
    exported = export_adapter(tmp_path / "qf", tmp_path / "qf-exported")
    assert "Prompt layout: `query-first`" in (exported / "README.md").read_text()
    merged = export_merged(adapter, tmp_path / "qf-merged", dtype="fp32")
    for folder in (exported, merged):
        engine = ProRankScorer(str(folder), dtype="fp32", device="cpu", max_length=512)
        assert engine.prompt_layout == "query-first"
        np.testing.assert_allclose(engine.score("capital", docs), served.score("capital", docs), atol=5e-3)
    with pytest.raises(ValueError, match="prompt layout 'query-first'"):  # stage 2 must continue in the same layout
        train_score(_cfg(tmp_path, tiny_model_dir, train_dir, "mismatch", init_adapter=str(adapter)),
                    progress=False)
