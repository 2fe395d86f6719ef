"""Fault injection: what an unlucky operator or a hostile user does to an index, and what must survive.

Each test injects one fault (a kill -9 at a build stage, a tampered or hostile index file, a leftover of a
crashed build, a swap under a reader) and asserts that nothing is lost: the index still loads and answers,
or the error is one clear line that says what to do. README "Reliability" lists these with their figures.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import rag.index_folder as index_folder
import rag.stores.local_write as store
from rag import Assistant
from rag.documents import load_documents
from rag.embeddings import load_embedder
from rag.errors import IndexCorruptError, IndexWriteError
from rag.store import build_index, load_index

QUESTION = "绍兴2025年技术交易额目标是多少?"


def _manifest(index_dir: Path) -> dict:
    return json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))


def _write_manifest(index_dir: Path, manifest: dict) -> None:
    (index_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def segment_file(index_dir: Path, leaf: str) -> Path:
    """A file of the index's first segment."""
    return index_dir / "segments" / _manifest(index_dir)["segments"][0]["name"] / leaf


def _forge(index_dir: Path, path: Path) -> None:
    """Record a tampered file's own checksum and size in the manifest, as a careful attacker would."""
    manifest = _manifest(index_dir)
    name = path.relative_to(index_dir).as_posix()
    manifest["files"][name], manifest["sizes"][name] = index_folder.file_sha(path), path.stat().st_size
    _write_manifest(index_dir, manifest)


# ---------------------------------------------------------------- hostile and tampered index files


@pytest.mark.parametrize("name", ["/etc/passwd", "../../../../../../etc/hostname", "/dev/zero", "bm25/../../x"])
def test_manifest_never_makes_the_loader_read_outside_the_index(workspace, monkeypatch, name):
    manifest = _manifest(workspace.index_dir)
    manifest["files"][name] = "0" * 64
    _write_manifest(workspace.index_dir, manifest)
    opened = []
    real = index_folder.file_sha
    monkeypatch.setattr(index_folder, "file_sha", lambda p: opened.append(str(p)) or real(p))
    result = {}
    # /dev/zero hashed would never end: load in a thread so the test fails instead of hanging.
    t = threading.Thread(target=lambda: result.setdefault("exc", _raises(load_index, workspace.index_dir)), daemon=True)
    t.start()
    t.join(timeout=20)
    assert not t.is_alive(), "load_index hung on a manifest entry outside the index"
    assert isinstance(result["exc"], IndexCorruptError) and "rebuild" in str(result["exc"])
    assert not any(Path(p).resolve().is_relative_to(Path("/etc")) or p.startswith("/dev") for p in opened)


def _raises(fn, *args):
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - the test inspects the type
        return exc
    return None


@pytest.mark.parametrize("victim", ["post_tf.npy", "terms.npy", "records.jsonl", "chunk_tokens.npy"])
def test_tampered_bm25_file_is_refused(workspace, victim):
    path = segment_file(workspace.index_dir, victim)
    data = path.read_bytes()
    path.write_bytes(data[:-2] + (b"9" if data[-2:-1] != b"9" else b"8") + data[-1:])
    with pytest.raises(IndexCorruptError, match="checksum"):
        load_index(workspace.index_dir)


def test_every_index_file_is_checksummed(built):
    files = {p.relative_to(built.index_dir).as_posix() for p in built.index_dir.rglob("*") if p.is_file()}
    assert set(_manifest(built.index_dir)["files"]) == files - {"manifest.json"}


def test_index_file_replaced_by_a_symlink_is_refused(workspace):
    target = segment_file(workspace.index_dir, "chunks.jsonl")
    shutil.copy(target, workspace.index_dir.parent / "elsewhere.jsonl")
    target.unlink()
    target.symlink_to(workspace.index_dir.parent / "elsewhere.jsonl")  # same bytes, but not the index's own file
    with pytest.raises(IndexCorruptError, match="not a regular file"):
        load_index(workspace.index_dir)


def test_pickled_vectors_are_refused(workspace):
    path = segment_file(workspace.index_dir, "chunk_vectors.npy")
    np.save(path, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    _forge(workspace.index_dir, path)  # checksum forged too
    with pytest.raises(IndexCorruptError, match="unreadable"):
        load_index(workspace.index_dir)


def test_hostile_documents_jsonl_is_a_clear_error(workspace):
    path = segment_file(workspace.index_dir, "records.jsonl")  # the catalog, read when the index opens
    path.write_text(json.dumps({"doc_id": ["not", "a", "str"], "text": 5}) + "\n", encoding="utf-8")
    _forge(workspace.index_dir, path)
    with pytest.raises(IndexCorruptError, match="rebuild"):
        load_index(workspace.index_dir)


def test_rebuild_never_reuses_vectors_from_a_tampered_index(workspace):
    vectors = segment_file(workspace.index_dir, "chunk_vectors.npy")
    np.save(vectors, np.zeros_like(np.load(vectors)), allow_pickle=False)  # checksum now fails
    docs, _ = load_documents(workspace.documents_dir)
    stats = build_index(docs, load_embedder(), workspace.index_dir, progress=False)
    assert stats["reused"] == 0 and stats["embedded"] > 1000
    index = load_index(workspace.index_dir)
    chunk = index.chunks_of(next(iter(index.catalog)))[0]
    clause_vectors = index.clauses_of([chunk.chunk_id])[chunk.chunk_id][1]
    assert index.dense_search(clause_vectors[0], 1)[0][1] > 0.5  # the chunk vectors are real again, not zeros


# ---------------------------------------------------------------- debris and folders


def _docs(workspace):
    return load_documents(workspace.documents_dir)[0]


def test_orphaned_temporary_folders_are_cleared_by_the_next_build(workspace):
    parent = workspace.index_dir.parent
    for i in range(3):
        (parent / f".default.tmp-crash{i}").mkdir()
        (parent / f".default.tmp-crash{i}" / "dense.faiss").write_bytes(b"half")
    build_index(_docs(workspace), load_embedder(), workspace.index_dir, progress=False)
    assert sorted(p.name for p in parent.iterdir() if p.name.startswith(".default")) == [".default.lock"]


def test_stale_old_copy_that_cannot_be_deleted_does_not_block_builds(workspace, monkeypatch):
    old = workspace.index_dir.parent / ".default.old"
    shutil.copytree(workspace.index_dir, old)
    real_rmtree = shutil.rmtree

    def stubborn(path, *a, **k):  # what a read-only or busy folder does (root ignores chmod, so inject it)
        if Path(path) == old:
            raise PermissionError(13, "Permission denied", str(path))
        return real_rmtree(path, *a, **k)

    monkeypatch.setattr(index_folder.shutil, "rmtree", stubborn)
    build_index(_docs(workspace), load_embedder(), workspace.index_dir, progress=False)
    assert load_index(workspace.index_dir).chunk_count() > 0
    assert not old.exists()  # moved aside to a trash folder that the next build clears
    monkeypatch.setattr(index_folder.shutil, "rmtree", real_rmtree)
    build_index(_docs(workspace), load_embedder(), workspace.index_dir, progress=False)
    assert not list(workspace.index_dir.parent.glob(".default.old*"))


def test_index_folder_gets_ordinary_permissions(workspace):
    build_index(_docs(workspace), load_embedder(), workspace.index_dir, progress=False)
    umask = os.umask(0)
    os.umask(umask)
    assert workspace.index_dir.stat().st_mode & 0o777 == 0o777 & ~umask


def test_unwritable_index_location_is_one_clear_error(workspace, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(IndexWriteError, match="--index-dir"):
        build_index(_docs(workspace), load_embedder(), blocker / "default", progress=False)


def test_unwritable_index_location_from_the_cli_is_one_line(workspace, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "index", "--documents-dir", str(workspace.documents_dir),
                           "--index-dir", str(blocker / "default")], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "cannot write the index" in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if line.strip()]) == 1


def test_failed_write_mid_build_is_an_index_write_error_and_keeps_the_index(workspace, monkeypatch):
    before = _manifest(workspace.index_dir)["created_at"]

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_write_jsonl", disk_full)
    with pytest.raises(IndexWriteError, match="No space left"):
        build_index(_docs(workspace), load_embedder(), workspace.index_dir, progress=False)
    assert load_index(workspace.index_dir).manifest["created_at"] == before
    assert not list(workspace.index_dir.parent.glob(".default.tmp-*"))


# ---------------------------------------------------------------- a reader during swaps


def test_loads_during_repeated_swaps_never_report_corruption(workspace):
    """A builder swapping new copies in while another thread loads: every load succeeds (issue #8.10)."""
    src = workspace.index_dir.parent / "pristine"
    shutil.copytree(workspace.index_dir, src)
    stop, swaps, errors, loads = threading.Event(), [0], [], [0]

    def swapper():
        while not stop.is_set():
            with index_folder.index_lock(workspace.index_dir):  # as build_index does: copy and swap under the lock
                tmp = workspace.index_dir.parent / f".default.tmp-{swaps[0]}"
                shutil.copytree(src, tmp)
                index_folder.swap_in(tmp, workspace.index_dir)
            swaps[0] += 1

    t = threading.Thread(target=swapper)
    t.start()
    try:
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and loads[0] < 60:
            try:
                load_index(workspace.index_dir)
            except Exception as exc:  # noqa: BLE001 - any failure counts
                import traceback

                errors.append("".join(traceback.format_exception(exc))[-1500:])
            loads[0] += 1
    finally:
        stop.set()
        t.join()
    assert swaps[0] > 20 and loads[0] >= 20
    assert errors == []


# ---------------------------------------------------------------- kill -9 at every build stage

KILL_SCRIPT = r"""
import os, signal, sys
from pathlib import Path
import numpy as np
import rag.index_folder as index_folder
import rag.stores.local_write as store
from rag.documents import load_documents
from rag.embeddings import load_embedder

stage, docs_dir, index_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
docs, _ = load_documents(docs_dir)
embedder = load_embedder()
if stage == "embedding":
    embedder.embed_passages = die
elif stage == "writing-vectors":
    np.save = die  # this process only
elif stage == "writing-jsonl":
    store._write_jsonl = die
elif stage in ("between-renames", "after-swap"):
    real_rename, calls = os.rename, []
    def rename(a, b):
        calls.append(a)
        if stage == "between-renames" and len(calls) == 2:
            die()
        real_rename(a, b)
        if stage == "after-swap" and len(calls) == 2:
            die()
    store.os.rename = rename
# A new document forces new embeddings, so every stage is reached.
(docs_dir / "zz_new_plan.txt").write_text("某市2026年科技工作要点\n一、全年技术合同成交额达到777亿元。\n", encoding="utf-8")
docs, _ = load_documents(docs_dir)
store.build_index(docs, embedder, index_dir, progress=False)
"""

STAGES = ["embedding", "writing-vectors", "writing-jsonl", "between-renames", "after-swap"]


@pytest.mark.parametrize("stage", STAGES)
def test_kill_9_at_any_build_stage_leaves_an_answering_index(workspace, stage):
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, stage, str(workspace.documents_dir),
                           str(workspace.index_dir)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    # The reader's view: an index loads and answers, old or new.
    index = load_index(workspace.index_dir)
    assert len(index.documents) in (5, 6)
    assistant = Assistant.from_settings(workspace.settings, build=False)
    assert "450亿元" in assistant.ask(QUESTION).answer
    # The next build finishes the job and leaves no debris.
    Assistant.from_settings(workspace.settings)
    assert len(load_index(workspace.index_dir).documents) == 6
    assert sorted(p.name for p in workspace.index_dir.parent.iterdir() if p.name.startswith(".default")) \
        == [".default.lock"]


# ---------------------------------------------------------------- bad library arguments

BAD_CALLS = [
    ("绍兴\ud800技术交易额", {}), ("\ud800", {}), ("\udfff\ud800", {}), (b"bytes", {}), (["list"], {}),
    ("绍兴2025年技术交易额", {"city": "\ud800"}), ("绍兴2025年技术交易额", {"city": 5}),
    ("绍兴2025年技术交易额", {"city": ["绍兴"]}), ("绍兴2025年技术交易额", {"city": "\x00\x01"}),
    ("绍兴2025年技术交易额", {"k": "5"}), ("绍兴2025年技术交易额", {"k": 0}), ("绍兴2025年技术交易额", {"k": -1}),
    ("绍兴2025年技术交易额", {"k": 2.5}), ("绍兴2025年技术交易额", {"year": "2025"}),
    ("绍兴2025年技术交易额", {"year": True}), ("绍兴2025年技术交易额", {"year": -2025}),
]


@pytest.mark.parametrize("question,kwargs", BAD_CALLS)
def test_bad_library_arguments_raise_the_librarys_own_errors(assistant, question, kwargs):
    from rag import PolicyRagError

    try:
        answer = assistant.ask(question, **kwargs)
    except PolicyRagError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:  # a question that still has words once the garbage is dropped is answered, and validly
        for c in answer.citations:
            assert assistant.index.documents[c.doc_id].text[c.start:c.end] == c.quote
