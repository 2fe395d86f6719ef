"""The local index's segments (rag/stores/segments.py, segment_write.py, local_update.py): adding or removing a
document touches only it, compaction keeps every answer, a crash mid-write loses nothing, BM25 scores are
bm25s's, and a large segment's IVF-PQ search finds what exact search finds."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag import Assistant
from rag.documents import load_document, load_documents
from rag.embeddings import load_embedder
from rag.index_folder import file_sha
from rag.stores.local import load_index
from rag.stores.local_update import add_documents, compact, remove_documents, sync_index

NINGBO = "2025年宁波市科技工作要点\n一、主要目标\n全市技术合同成交额突破333亿元,新认定高新技术企业800家。\n二、重点任务\n新建省级孵化器12家。\n"
QUESTIONS = ["绍兴2025年技术交易额目标是多少?", "鹰潭2025年技术合同成交额要达到多少?", "赣州十四五期间高新技术企业数量目标?",
             "What is Nanchang's 2015 patent application target?", "宁波2025年技术合同成交额目标是多少?"]


def _ningbo(workspace, name="ningbo_2025_st_work_points.txt", text=NINGBO):
    path = workspace.documents_dir / name
    path.write_text(text, encoding="utf-8")
    return load_document(path, root=workspace.documents_dir.parent)


def _files(index_dir: Path) -> dict[str, tuple[int, str]]:
    return {p.relative_to(index_dir).as_posix(): (p.stat().st_ino, file_sha(p))
            for p in index_dir.rglob("*") if p.is_file()}


def _answers(settings) -> list[tuple[str, list]]:
    a = Assistant.from_settings(settings, build=False)
    return [(x.answer, [(c.doc_id, c.start, c.end) for c in x.citations]) for x in map(a.ask, QUESTIONS)]


def _all_hits(store, vector, tokens) -> set[str]:
    return {c for c, _ in store.dense_search(vector, 10_000)} | {c for c, _ in store.lexical_search(tokens, 10_000)}


def test_bm25_scores_are_bm25s_scores(built):
    """One segment scores every token set exactly as bm25s (method "lucene") indexed over the same tokens."""
    import bm25s

    store = load_index(built.index_dir)
    chunks = [c for d in store.catalog for c in store.chunks_of(d)]
    tokens = [store.tokenizer.search_tokens(c.indexed_text) or ["∅"] for c in chunks]
    theirs = bm25s.BM25()
    theirs.index(tokens, show_progress=False)
    vocab = sorted({t for toks in tokens for t in toks})
    rng = random.Random(6)
    for _ in range(200):
        query = list(dict.fromkeys(rng.sample(vocab, rng.randint(1, 8)) + rng.choice([[], ["没有这个词"]])))
        expected = np.asarray(theirs.get_scores(query))
        ours = dict(store.lexical_search(query, len(chunks)))
        assert {c.chunk_id: float(s) for c, s in zip(chunks, expected) if s > 0} == ours, query
    assert store.doc_freq("没有这个词") == 0 and store.doc_freq(vocab[0]) == sum(vocab[0] in t for t in tokens)


def test_filtered_bm25_scores_are_bm25s_scores(built):
    """With a document filter, the allowed chunks score as bm25s scores them over the whole corpus (the filter
    changes which chunks are found, not IDF or lengths), and the k best are the whole filtered ranking's first k."""
    import bm25s

    store = load_index(built.index_dir)
    docs = list(store.catalog)
    chunks = [c for d in docs for c in store.chunks_of(d)]
    tokens = [store.tokenizer.search_tokens(c.indexed_text) or ["∅"] for c in chunks]
    theirs = bm25s.BM25()
    theirs.index(tokens, show_progress=False)
    vocab = sorted({t for toks in tokens for t in toks})
    rng = random.Random(7)
    for _ in range(100):
        allowed = set(rng.sample(docs, rng.randint(1, len(docs) - 1)))
        query = list(dict.fromkeys(rng.sample(vocab, rng.randint(1, 8))))
        expected = np.asarray(theirs.get_scores(query))
        ranked = store.lexical_search(query, len(chunks), doc_ids=allowed)
        assert dict(ranked) == {c.chunk_id: float(s) for c, s in zip(chunks, expected)
                                if s > 0 and c.doc_id in allowed}, (query, allowed)
        assert store.lexical_search(query, 5, doc_ids=allowed) == ranked[:5]


def test_filtered_bm25_is_the_unfiltered_ranking_restricted(workspace):
    """Over several segments, one with a removed document: a filter's ranking is the unfiltered one's allowed part."""
    store = load_index(workspace.index_dir)
    store, _ = add_documents(store, [_ningbo(workspace)], load_embedder())
    store, _ = remove_documents(store, ["nanchang_2015_st_work_points"])
    assert len(store.segments) == 2 and store.tombstones
    docs = list(store.catalog) + ["nanchang_2015_st_work_points", "no_such_plan"]
    rng = random.Random(8)
    for q in QUESTIONS + ["孵化器 技术合同成交额 宁波 南昌"]:
        tokens = store.tokenizer.search_tokens(q)
        everything = store.lexical_search(tokens, 10_000)
        for _ in range(10):
            allowed = set(rng.sample(docs, rng.randint(1, 4)))
            want = [(c, s) for c, s in everything if c.rpartition("#")[0] in allowed]
            assert store.lexical_search(tokens, 10_000, doc_ids=allowed) == want, (q, allowed)
            assert store.lexical_search(tokens, 3, doc_ids=allowed) == want[:3], (q, allowed)



def test_bm25_over_many_rows_skips_what_cannot_rank_and_ranks_the_same(workspace, monkeypatch):
    """A search over every chunk, or filtered to many rows (here any number: BOUND_MIN_ROWS = 0), bounds each term
    by its IDF and reads only the postings that could still reach the k best (rag/stores/local_lexical.py); its
    k best are the exhaustive ranking's, scores to the bit, ties in index order, over two segments and a removed
    document."""
    import rag.stores.local as local

    store = load_index(workspace.index_dir)
    store, _ = add_documents(store, [_ningbo(workspace)], load_embedder())
    store, _ = remove_documents(store, ["nanchang_2015_st_work_points"])
    chunks = [c for d in store.catalog for c in store.chunks_of(d)]
    vocab = sorted({t for c in chunks for t in store.tokenizer.search_tokens(c.indexed_text)})
    docs = list(store.catalog) + ["nanchang_2015_st_work_points"]
    rng = random.Random(9)
    queries = [store.tokenizer.search_tokens(q) for q in QUESTIONS]
    queries += [rng.sample(vocab, rng.randint(2, 10)) + store.tokenizer.search_tokens(rng.choice(QUESTIONS))
                for _ in range(150)]
    filters = [None, list(store.catalog)] + [set(rng.sample(docs, rng.randint(1, len(docs) - 1))) for _ in range(4)]
    # exhaustive: each filter's rows' postings, every one (the whole corpus = a filter allowing every document)
    want = {(i, j, k): store.lexical_search(tokens, k, doc_ids=list(store.catalog) if f is None else f)
            for i, tokens in enumerate(queries) for j, f in enumerate(filters) for k in (1, 3, 10, 30)}
    narrowed = []

    def counting(*args, **kwargs):
        got = pruned(*args, **kwargs)
        narrowed.append(got is not None)
        return got

    pruned = local.pruned_segment_scores
    monkeypatch.setattr(local, "pruned_segment_scores", counting)
    monkeypatch.setattr(local, "BOUND_MIN_ROWS", 0)
    for (i, j, k), expected in want.items():
        assert store.lexical_search(queries[i], k, doc_ids=filters[j]) == expected, (queries[i], filters[j], k)
    assert sum(narrowed) > 0.8 * len(narrowed)


def test_adding_a_document_writes_only_its_segment(workspace):
    before = _files(workspace.index_dir)
    store = load_index(workspace.index_dir)
    n, df = store.chunk_count(), store.doc_freq("宁波")
    store, stats = add_documents(store, [_ningbo(workspace)], load_embedder())
    after = _files(workspace.index_dir)
    seg_before = {k for k in before if k.startswith("segments/")}
    assert {k: after[k] for k in seg_before} == {k: before[k] for k in seg_before}  # same inodes, same bytes
    added = {k.split("/")[1] for k in set(after) - set(before) if k.startswith("segments/")}
    assert len(added) == 1 and stats["added"] == 1 and stats["segments"] == 2
    new = store.chunks_of("ningbo_2025_st_work_points")
    assert store.chunk_count() == n + len(new) and store.doc_freq("宁波") == df + sum("宁波" in c.indexed_text for c in new)
    hits = [c for c, _ in store.lexical_search(["宁波", "孵化器"], 3)]
    assert hits[0].startswith("ningbo_2025_st_work_points#")
    answer = Assistant.from_settings(workspace.settings, build=False).ask("宁波2025年技术合同成交额目标是多少?")
    assert "333亿元" in answer.answer


def test_a_removed_document_is_never_returned(workspace):
    store = load_index(workspace.index_dir)
    gone = "shaoxing_2025_st_innovation_work_points"
    vector = load_embedder().embed_queries(["绍兴2025年技术交易额目标是多少?"])[0]
    tokens = store.tokenizer.search_tokens("绍兴 技术交易额 科技")
    assert any(c.startswith(gone) for c in _all_hits(store, vector, tokens))
    store, stats = remove_documents(store, [gone])
    assert stats["removed"] == 1 and gone not in store.catalog and store.chunks_of(gone) == []
    for s in (store, load_index(workspace.index_dir)):  # this snapshot, and the index reopened
        assert not any(c.startswith(gone) for c in _all_hits(s, vector, tokens))
        assert not any(c.startswith(gone) for c, _ in s.dense_search(vector, 50, doc_ids={gone, "nanchang_2015_st_work_points"}))
        assert s.lexical_search(tokens, 10, doc_ids={gone}) == [] and s.dense_search(vector, 10, doc_ids={gone}) == []
        with pytest.raises(KeyError):
            s.chunks([f"{gone}#0"])
    assert Assistant.from_settings(workspace.settings.with_overrides(documents_dir=workspace.documents_dir),
                                   build=False).ask("绍兴2025年技术交易额目标是多少?").refused


def test_compaction_keeps_every_answer(workspace):
    store = load_index(workspace.index_dir)
    store, _ = add_documents(store, [_ningbo(workspace)], load_embedder())
    store, _ = remove_documents(store, ["nanchang_2015_st_work_points"])
    (workspace.documents_dir / "nanchang_2015_st_work_points.txt").unlink()
    vector = load_embedder().embed_queries(["技术合同成交额目标"])[0]
    tokens = store.tokenizer.search_tokens("技术合同成交额 孵化器 宁波")
    searches = lambda s: (s.dense_search(vector, 20), s.lexical_search(tokens, 20),  # noqa: E731
                          s.dense_search(vector, 5, doc_ids={"ningbo_2025_st_work_points", "yingtan_2025_st_work_opinions"}))
    before, answers = searches(store), _answers(workspace.settings)
    store, stats = compact(store)
    assert stats["compacted"] and stats["segments"] == 1 and store.tombstones == {}
    assert len(list((workspace.index_dir / "segments").iterdir())) == 1  # the merged segments are deleted
    assert searches(store) == before and _answers(workspace.settings) == answers
    assert "333亿元" in answers[-1][0]


def test_tombstones_past_their_share_compact_the_segment(workspace):
    store = load_index(workspace.index_dir)
    ids = sorted(store.catalog, key=lambda d: store.catalog[d].chunks)  # smallest first
    assert store.catalog[ids[0]].chunks < 0.3 * store.chunk_count() < sum(store.catalog[d].chunks for d in ids[:3])
    store, stats = remove_documents(store, ids[:1])
    assert not stats["compacted"] and store.tombstones
    store, stats = remove_documents(store, ids[1:3])  # now over 30% of the segment's chunks are removed
    assert stats["compacted"] and store.tombstones == {} and sorted(store.catalog) == sorted(ids[3:])


def test_many_small_segments_are_merged_in_order(workspace, monkeypatch):
    import rag.stores.local_update as local_update

    monkeypatch.setattr(local_update, "MAX_SEGMENTS", 2)
    store, embedder = load_index(workspace.index_dir), load_embedder()
    compacted = []
    for i, city in enumerate(["宁波", "舟山", "台州"]):
        doc = _ningbo(workspace, f"{city}_{i}.txt", NINGBO.replace("宁波", city).replace("333", f"33{i}"))
        store, stats = add_documents(store, [doc], embedder)
        compacted.append(stats["compacted"])
    assert compacted == [False, True, False]  # the second add made 3 segments: merged into 1, then 1 more
    assert len(store.segments) == 2 and len(store.catalog) == 8
    assert list(store.catalog)[-3:] == ["宁波_0", "舟山_1", "台州_2"]  # documents keep the order they were added in
    assert "332亿元" in Assistant.from_settings(workspace.settings, build=False).ask("台州2025年技术合同成交额目标是多少?").answer


KILL_ADD = r"""
import os, signal, sys
from pathlib import Path
import numpy as np
import rag.stores.local_update as update
from rag.documents import load_document
from rag.embeddings import load_embedder
from rag.stores.local import load_index

stage, doc, index_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
embedder = load_embedder()
if stage == "embedding":
    embedder.embed_passages = die
elif stage == "writing-segment":
    np.save = die
elif stage == "before-commit":
    real = os.replace
    update.os.replace = lambda a, b: die() if str(b).endswith("manifest.json") else real(a, b)
elif stage == "after-commit":
    real = os.replace
    update.os.replace = lambda a, b: (real(a, b), die() if str(b).endswith("manifest.json") else None)
update.add_documents(load_index(index_dir), [load_document(doc, root=doc.parent.parent)], embedder)
"""


@pytest.mark.parametrize("stage", ["embedding", "writing-segment", "before-commit", "after-commit"])
def test_a_crash_mid_add_loses_nothing(workspace, stage):
    doc = _ningbo(workspace)
    before = load_index(workspace.index_dir)
    proc = subprocess.run([sys.executable, "-c", KILL_ADD, stage, str(workspace.documents_dir / f"{doc.doc_id}.txt"),
                           str(workspace.index_dir)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    store = load_index(workspace.index_dir)  # old or new, whole
    committed = stage == "after-commit"
    assert set(store.catalog) == set(before.catalog) | ({doc.doc_id} if committed else set())
    assert store.chunk_count() == before.chunk_count() + (len(store.chunks_of(doc.doc_id)) if committed else 0)
    assistant = Assistant.from_settings(workspace.settings, build=False)
    assert "450亿元" in assistant.ask("绍兴2025年技术交易额目标是多少?").answer
    # The next write clears what the crash left and does the job.
    store, _ = add_documents(store, [doc], load_embedder())
    manifest = json.loads((workspace.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert {p.name for p in (workspace.index_dir / "segments").iterdir()} == {e["name"] for e in manifest["segments"]}
    on_disk = {p.relative_to(workspace.index_dir).as_posix() for p in workspace.index_dir.rglob("*") if p.is_file()}
    assert on_disk - {"manifest.json"} == set(manifest["files"])
    assert "333亿元" in Assistant.from_settings(workspace.settings, build=False).ask(QUESTIONS[-1]).answer


def test_sync_writes_only_what_changed_and_rebuilds_when_most_did(workspace):
    embedder = load_embedder()
    _ningbo(workspace)
    docs, _ = load_documents(workspace.documents_dir, root=workspace.documents_dir.parent)
    stats = sync_index(docs, embedder, workspace.index_dir, progress=False)
    assert stats["added"] == 1 and stats["segments"] == 2 and 0 < stats["embedded"] < 40
    assert sync_index(docs, embedder, workspace.index_dir, progress=False)["embedded"] == 0  # nothing changed
    stats = sync_index(docs[:2], embedder, workspace.index_dir, progress=False)  # 4 of 6 removed: a full build
    assert "added" not in stats and stats["documents"] == 2 and stats["embedded"] == 0
    assert len(load_index(workspace.index_dir).segments) == 1


def test_a_large_segment_is_searched_through_ivf_pq_like_exact_search(workspace, monkeypatch):
    """A segment from ANN_MIN chunks on gets an IVF-PQ index (here ANN_MIN is lowered to this corpus's size)."""
    import rag.stores.segment_write as segment_write

    monkeypatch.setattr(segment_write, "ANN_MIN", 100)
    monkeypatch.setattr(segment_write, "ann_params", lambda n, dim: {
        "type": "IVF-PQ", "nlist": 8, "pq_m": 48, "pq_bits": 4, "nprobe": 4, "train_size": n, "rerank": "exact",
        "exact_max": 40})
    exact = load_index(workspace.index_dir)
    store, _ = compact(exact)
    assert store.segments[0].entry["ann"]["type"] == "IVF-PQ" and store.segments[0].ann() is not None
    embedder = load_embedder()
    found = 0
    for q in QUESTIONS[:4]:
        v = embedder.embed_queries([q])[0]
        want = exact.dense_search(v, 10)
        got = store.dense_search(v, 10)
        assert all(abs(dict(want).get(c, s) - s) < 1e-6 for c, s in got)  # re-ranked by exact inner product
        found += len({c for c, _ in want} & {c for c, _ in got})
        small = {"yingtan_2025_st_work_opinions"}  # fewer allowed chunks than exact_max: searched exactly
        assert store.dense_search(v, 5, doc_ids=small) == exact.dense_search(v, 5, doc_ids=small)
        many = {"ganzhou_14th_fyp_st_plan_implementation", "shaoxing_2025_st_innovation_work_points"}
        got = store.dense_search(v, 10, doc_ids=many)  # more than exact_max: IVF-PQ among the allowed rows only
        allowed = dict(exact.dense_search(v, 10_000, doc_ids=many))
        assert len(allowed) > 40 and len(got) == 10 and all(abs(allowed[c] - s) < 1e-6 for c, s in got)
    assert found >= 0.7 * 40


def test_a_full_build_of_several_segments_searches_as_one(workspace, monkeypatch):
    """A full build writes a segment per BUILD_SEGMENT_CHUNKS chunks (lowered here): documents keep their order
    and both searches give the one-segment index's hits and scores (BM25 statistics are the whole index's)."""
    import rag.stores.local_write as local_write

    one = load_index(workspace.index_dir)
    vectors = local_write.previous_vectors(workspace.index_dir, one.embedder)
    docs, _ = load_documents(workspace.documents_dir, root=workspace.documents_dir.parent)
    monkeypatch.setattr(local_write, "BUILD_SEGMENT_CHUNKS", 40)
    index_dir = workspace.index_dir.parent / "several"
    local_write.build_index_from_vectors(
        docs, lambda texts: np.stack([vectors[local_write._sha(t)] for t in texts]), one.embedder, index_dir)
    several = load_index(index_dir)
    assert len(one.segments) == 1 and len(several.segments) >= 3
    assert all(s.size <= 40 or len(s.records) == 1 for s in several.segments)
    assert list(several.catalog) == list(one.catalog) and several.manifest["counts"] == one.manifest["counts"]
    assert several.tokenizer.user_terms == one.tokenizer.user_terms and several.bridge.entries == one.bridge.entries
    embedder = load_embedder()
    for q in QUESTIONS:
        v, tokens = embedder.embed_queries([q])[0], one.tokenizer.search_tokens(q)
        for want, got in ((one.dense_search(v, 20), several.dense_search(v, 20)),
                          (one.lexical_search(tokens, 20), several.lexical_search(tokens, 20))):
            assert [c for c, _ in got] == [c for c, _ in want], q
            assert np.allclose([x for _, x in got], [x for _, x in want], rtol=1e-6, atol=1e-6), q



def test_a_full_build_writes_each_place_s_plans_together(workspace):
    """Plans arriving as 宁波, 舟山, 宁波 are written grouped by place (the given order within one), so a
    question about 宁波 reads one run of rows; the dictionary is still learnt in the given order."""
    from rag.stores.base import index_order
    from rag.stores.local_write import learn_terms
    from rag.tokenize import Tokenizer

    for name, city in (("zz1_ningbo.txt", "宁波"), ("zz2_zhoushan.txt", "舟山"), ("zz3_ningbo.txt", "宁波")):
        _ningbo(workspace, name, NINGBO.replace("宁波", city).replace("2025年", "2024年" if "3" in name else "2025年"))
    docs, _ = load_documents(workspace.documents_dir, root=workspace.documents_dir.parent)
    arrived = [d.doc_id for d in docs]
    assert arrived.index("zz2_zhoushan") < arrived.index("zz3_ningbo")
    index_dir = workspace.index_dir.parent / "grouped"
    from rag.stores.local_write import build_index

    build_index(docs, load_embedder(), index_dir, progress=False)
    store = load_index(index_dir)
    order = list(store.catalog)
    assert order == [d.doc_id for d in index_order(docs)] and order != arrived
    assert order.index("zz3_ningbo") == order.index("zz1_ningbo") + 1  # together, in the order they came
    assert sorted(order) == sorted(arrived)
    assert store.tokenizer.user_terms == Tokenizer(learn_terms(docs)).user_terms
    ningbo = {"zz1_ningbo", "zz3_ningbo"}
    assert [len(r) for r in store._allowed_ranges(ningbo)] == [1]  # one run of rows
    tokens = store.tokenizer.search_tokens("宁波 技术合同成交额")
    assert {c.rpartition("#")[0] for c, _ in store.lexical_search(tokens, 10, doc_ids=ningbo)} == ningbo
