"""rag/stores/doc_freq.py: the corpus-wide document-frequency table, and how each kind of write keeps it equal to
the sum over the index's segments."""

from __future__ import annotations

import json
import random
from collections import Counter

import numpy as np
import pytest

from rag.documents import load_document
from rag.embeddings import load_embedder
from rag.index_folder import file_sha
from rag.stores.doc_freq import DocFreq, adjusted, table_of
from rag.stores.local import load_index
from rag.stores.local_update import add_documents, compact, remove_documents

NINGBO = "2025年宁波市科技工作要点\n一、主要目标\n全市技术合同成交额突破333亿元,新认定高新技术企业800家。\n"


def _table(counter: Counter) -> np.ndarray:
    keys = sorted(h for h, n in counter.items() if n)
    return np.array([keys, [counter[h] for h in keys]], dtype=np.int64).reshape(2, -1)


def _pairs(counter: Counter) -> tuple[np.ndarray, np.ndarray]:
    t = _table(counter)
    return t[0], t[1]


def test_adjusted_adds_and_takes_off_counts_like_a_counter():
    rng = random.Random(3)
    for _ in range(200):
        base = Counter({rng.randint(-50, 50): rng.randint(1, 9) for _ in range(rng.randint(0, 30))})
        plus = [Counter({rng.randint(-60, 60): rng.randint(1, 5) for _ in range(rng.randint(0, 10))})
                for _ in range(rng.randint(0, 3))]
        minus = Counter({h: rng.randint(1, n) for h, n in base.items() if rng.random() < 0.4})
        want = base.copy()
        for p in plus:
            want.update(p)
        want.subtract(minus)
        got = adjusted(_table(base), plus=[_pairs(p) for p in plus], minus=[_pairs(minus)])
        assert got.tolist() == _table(+want).tolist()
        table = DocFreq(got)
        assert all(table.get(h) == want[h] for h in range(-61, 62))


def test_a_count_below_zero_is_refused():
    with pytest.raises(ValueError, match="below zero"):
        adjusted(_table(Counter({5: 1})), minus=[_pairs(Counter({5: 2}))])


def _ningbo(workspace, name: str, city: str = "宁波"):
    path = workspace.documents_dir / name
    path.write_text(NINGBO.replace("宁波", city), encoding="utf-8")
    return load_document(path, root=workspace.documents_dir.parent)


def _check(store) -> None:
    """The table is the sum over the snapshot's segments, written in the manifest, and reads the same reopened."""
    want = table_of(seg.folder for seg in store.segments)
    assert store.doc_freqs.table.tolist() == want.tolist()
    reopened = load_index(store.path)
    assert reopened.manifest["doc_freq"] == store.manifest["doc_freq"]
    assert np.asarray(reopened.doc_freqs.table).tolist() == want.tolist()


def test_the_table_follows_adds_removals_and_compactions(workspace, monkeypatch):
    import rag.stores.local_update as local_update

    store, embedder = load_index(workspace.index_dir), load_embedder()
    _check(store)
    before = store
    store, _ = add_documents(store, [_ningbo(workspace, "ningbo.txt")], embedder)
    _check(store)
    added = [set(store.tokenizer.search_tokens(c.indexed_text)) for c in store.chunks_of("ningbo")]
    words = sorted(set().union(*added))
    assert words and all(store.doc_freq(w) == before.doc_freq(w) + sum(w in a for a in added) for w in words)
    store, _ = remove_documents(store, ["ningbo"])  # a tombstone: the table keeps the chunks, the store does not
    _check(store)
    assert [store.doc_freq(w) for w in words] == [before.doc_freq(w) for w in words]
    monkeypatch.setattr(local_update, "MAX_SEGMENTS", 1)
    for i, city in enumerate(["舟山", "台州"]):  # the second add merges the small segments
        store, stats = add_documents(store, [_ningbo(workspace, f"c{i}.txt", city)], embedder)
        _check(store)
    assert stats["compacted"]
    store, stats = compact(store)
    assert stats["compacted"] and len(store.segments) == 1 and not store.tombstones
    _check(store)


def test_an_index_written_before_the_table_gets_it_at_its_next_write(workspace):
    index_dir = workspace.index_dir
    with_table = load_index(index_dir)
    vocab = sorted({t for d in with_table.catalog for c in with_table.chunks_of(d)
                    for t in with_table.tokenizer.search_tokens(c.indexed_text)})
    queries = [random.Random(i).sample(vocab, 6) for i in range(20)]
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    name = manifest.pop("doc_freq")
    manifest["format_version"] = 4  # as policy-rag wrote it before the table
    for table in ("files", "sizes"):
        del manifest[table][name]
    (index_dir / name).unlink()
    (index_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")

    old = load_index(index_dir)  # summed from the segments in memory: the same frequencies, the same rankings
    assert [old.doc_freq(t) for t in vocab] == [with_table.doc_freq(t) for t in vocab]
    assert [old.lexical_search(q, 10) for q in queries] == [with_table.lexical_search(q, 10) for q in queries]
    store, _ = add_documents(old, [_ningbo(workspace, "ningbo.txt")], load_embedder())
    written = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert written["files"][written["doc_freq"]] == file_sha(index_dir / written["doc_freq"])
    assert (old.manifest["format_version"], written["format_version"]) == (4, 5)
    _check(store)
