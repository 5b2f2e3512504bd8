"""The benchmark's peer implementations score what the engine scores (tiny random Qwen2 model, fp32)."""

import numpy as np
import pytest
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from prorank_integrations.bench.peers import MxbaiPeer, NaivePeer, SentenceTransformersPeer, _prepare_for_model_shim
from prorank_integrations.engine.prompt import PromptTemplate
from prorank_integrations.engine.scorer import ProRankScorer
from tests.tiny import CHATML, SPECIAL, build_model

QUERIES = ["what is the capital of france?", "fox", "0 1 2 3 " * 20]
DOCS = [
    "Paris is the capital and largest city of France.",
    "",
    "the lazy dog",
    "the quick brown fox jumps over the lazy dog. " * 8,
    "France " * 400,  # truncated at max_length
]
# Qwen2's pre-tokeniser: punctuation takes the newline after it (".\n" is one token when a prompt is tokenised whole).
QWEN_SPLIT = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
              r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")


def make_engine(folder: str) -> ProRankScorer:
    return ProRankScorer(folder, dtype="fp32", device="cpu", max_length=512, cache_size=0)


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return make_engine(tiny_model_dir)


def max_difference(peer, engine: ProRankScorer) -> float:
    return max(float(np.abs(peer.score(q, DOCS) - engine.score(q, DOCS)).max()) for q in QUERIES)


def test_naive_peer_equals_engine(engine):
    assert max_difference(NaivePeer(engine), engine) < 1e-4


def test_sentence_transformers_peer_equals_engine(engine, tiny_model_dir):
    pytest.importorskip("sentence_transformers")
    peer = SentenceTransformersPeer(tiny_model_dir, engine, batch_size=2)
    assert max_difference(peer, engine) < 1e-4
    assert peer.score(QUERIES[0], []).shape == (0,)


@pytest.fixture(scope="module")
def qwen_split_model_dir(tmp_path_factory):
    """The tiny model with a tokenizer trained with Qwen2's pre-tokeniser, so that BPE learns ".\\n"."""
    pytest.importorskip("sentence_transformers")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(QWEN_SPLIT), "isolated"), pre_tokenizers.ByteLevel(use_regex=False)]
    )
    backend.decoder = decoders.ByteLevel()
    corpus = [PromptTemplate().render(QUERIES[0], DOCS[0])] * 4
    backend.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIAL,
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        additional_special_tokens=SPECIAL[1:])
    tokenizer.chat_template = CHATML
    folder = tmp_path_factory.mktemp("tiny-qwen-split")
    build_model(len(tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def test_sentence_transformers_peer_exact_where_whole_text_tokenises_differently(qwen_split_model_dir):
    engine = make_engine(qwen_split_model_dir)
    ids = engine.encode(QUERIES[0], DOCS[:1])[0]
    whole = engine.tokenizer(engine.prompt.template.render(QUERIES[0], DOCS[0]), add_special_tokens=False)
    assert whole["input_ids"] != ids  # feeding the rendered prompt as text would score another sequence
    assert max_difference(SentenceTransformersPeer(qwen_split_model_dir, engine), engine) < 1e-4


def test_mxbai_peer_explains_a_missing_package(engine, tiny_model_dir):
    try:
        import mxbai_rerank  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="mxbai-rerank"):
            MxbaiPeer(tiny_model_dir, engine)
    else:
        pytest.skip("mxbai-rerank is installed")


def test_prepare_for_model_shim_cuts_only_the_document():
    assert _prepare_for_model_shim([1, 2], [3, 4, 5], max_length=4, truncation="only_second") == {
        "input_ids": [1, 2, 3, 4]
    }
