"""Connecting to Milvus (rag/stores/milvus_connect.py): errors that say what to do, and collection names."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pymilvus")

from rag.errors import VectorStoreUnavailableError  # noqa: E402
from rag.stores.milvus_connect import collection_prefix, connect, default_uri  # noqa: E402


def test_an_unreachable_server_or_a_wrong_file_name_says_what_to_do(tmp_path):
    with pytest.raises(VectorStoreUnavailableError, match="docker compose up -d.*POLICY_RAG_MILVUS_URI"):
        connect("http://127.0.0.1:9")
    with pytest.raises(VectorStoreUnavailableError, match="ending in .db"):
        connect(str(tmp_path / "index.txt"))


def test_milvus_lite_lives_beside_the_index_folder():
    assert default_uri(Path("indexes/default")) == str(Path("indexes/default.milvus.db"))


def test_collection_names_are_milvus_names():
    assert collection_prefix(Path("indexes/default")) == "policy_rag_indexes_default"
    a, b = collection_prefix(Path("x/eval-unseen-dev/index")), collection_prefix(Path("x/eval_unseen_dev/index"))
    assert a != b and a.startswith("policy_rag_eval_unseen_dev_index_") and b == "policy_rag_eval_unseen_dev_index"
    assert collection_prefix(Path("eval-unseen-dev2/index")) != a


def test_a_milvus_lite_file_in_use_by_another_process_is_explained(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "busy.milvus.db"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom pymilvus import MilvusClient\n"
                               f"MilvusClient({str(db)!r})\nprint('open', flush=True)\ntime.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(VectorStoreUnavailableError, match="another process holds the lock.*one process use a "
                                                              "file at a time"):
            connect(str(db))
    finally:
        holder.kill()
        holder.wait()
