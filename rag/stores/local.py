"""The local backend: an index folder of open-format files (FAISS, bm25s arrays, JSONL, numpy), behind `Store`.

    indexes/<name>/
      manifest.json     format version, embedder, chunking, per-document hashes, file checksums
      dense.faiss       FAISS inner-product index over chunk vectors (cosine: vectors are normalised)
      chunk_vectors.npy clause_vectors.npy   the vectors (reused by rebuilds for unchanged text)
      bm25/             bm25s arrays + JSON over jieba tokens
      documents.jsonl   each document's stored text, clean spans and metadata (citations point into this text)
      chunks.jsonl      clauses.jsonl      userdict.txt      bridge.json

Nothing is pickled. Writes are atomic: a new index is built in a sibling temporary directory and
swapped in by rename, so a crash mid-build leaves the previous index usable (the folder's locking, swap,
recovery and checksums live in index_folder.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Collection, Sequence

import numpy as np

from ..bridge import TermBridge, build_bridge
from ..chunking import Chunk, Clause, chunk_document
from ..documents import DocumentMetadata, PlanDocument
from ..encoders import LANGCHAIN_PREFIX, EmbedderInfo
from ..errors import (EmbedderMismatchError, IndexCorruptError, IndexingTimeoutError, IndexNotFoundError,
                      IndexVersionError, IndexWriteError)
from ..index_folder import (check_file, checked_files, clear_debris, file_sha, index_lock, manifest_identity, recover,
                            swap_in, verify_files, write_error)
from ..store import PIPELINE_VERSION
from ..tokenize import Tokenizer, learn_indicator_terms
from .base import ClauseBlock, DocumentRecord, DocumentView, record_of

__all__ = ["LocalStore", "build_index", "load_index", "FORMAT_VERSION", "SWAP_WAIT_S"]

log = logging.getLogger(__name__)
FORMAT_VERSION = 3  # 3: bm25/ files are checksummed too
# How long a reader waits for a builder to finish swapping a new index in before it reports what it saw.
SWAP_WAIT_S = 2.0


class LocalStore:
    """An index folder loaded as one read-only snapshot (the `Store` interface)."""

    backend = "local"

    def __init__(self, path: Path, manifest: dict, documents: list[PlanDocument], chunks: list[Chunk],
                 clauses: list[Clause], dense, chunk_vectors: np.ndarray, clause_vectors: np.ndarray, bm25,
                 tokenizer: Tokenizer, bridge: TermBridge):
        self.path = path
        self.manifest = manifest
        self.tokenizer = tokenizer
        self.bridge = bridge
        self._docs = {d.doc_id: d for d in documents}
        self._chunks = chunks
        self._clauses = clauses
        self._dense = dense  # faiss.Index over chunk_vectors, row i = chunks[i]
        self._chunk_vectors = chunk_vectors
        self._clause_vectors = clause_vectors
        self._bm25 = bm25
        self._chunk_row = {c.chunk_id: i for i, c in enumerate(chunks)}
        # Chunks are written document by document and clauses chunk by chunk: each is a range of rows.
        self._doc_rows: dict[str, tuple[int, int]] = {}
        for i, c in enumerate(chunks):
            lo, _ = self._doc_rows.get(c.doc_id, (i, i))
            self._doc_rows[c.doc_id] = (lo, i + 1)
        self._clause_rows: dict[str, list[int]] = {}
        for i, cl in enumerate(clauses):
            self._clause_rows.setdefault(cl.chunk_id, []).append(i)
        self.catalog: dict[str, DocumentRecord] = {
            d.doc_id: record_of(d, self._doc_rows.get(d.doc_id, (0, 0))[1] - self._doc_rows.get(d.doc_id, (0, 0))[0])
            for d in documents}
        self.documents = DocumentView(self)

    @property
    def embedder(self) -> EmbedderInfo:
        return EmbedderInfo(**self.manifest["embedder"])

    # ------------------------------------------------------------ look-ups by id

    def document(self, doc_id: str) -> PlanDocument:
        return self._docs[doc_id]

    def chunk_count(self) -> int:
        return len(self._chunks)

    def chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        return [self._chunks[self._chunk_row[c]] for c in chunk_ids]

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        lo, hi = self._doc_rows.get(doc_id, (0, 0))
        return self._chunks[lo:hi]

    def clauses_of(self, chunk_ids: Sequence[str]) -> dict[str, ClauseBlock]:
        out = {}
        for cid in chunk_ids:
            rows = self._clause_rows.get(cid, [])
            out[cid] = ([self._clauses[r] for r in rows], self._clause_vectors[rows])
        return out

    # ------------------------------------------------------------ search

    def _mask(self, doc_ids: Collection[str]) -> np.ndarray:
        ok = np.zeros(len(self._chunks), dtype=bool)
        for d in doc_ids:
            lo, hi = self._doc_rows.get(d, (0, 0))
            ok[lo:hi] = True
        return ok

    def dense_search(self, vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None
                     ) -> list[tuple[str, float]]:
        n = len(self._chunks)
        if not n or k < 1:
            return []
        # Exact inner product; with a filter the whole (small) index is ranked, then filtered.
        ok = None if doc_ids is None else self._mask(doc_ids)
        sims, rows = self._dense.search(np.asarray(vector, dtype=np.float32).reshape(1, -1),
                                        n if ok is not None else min(n, k))
        hits = [(int(i), float(s)) for i, s in zip(rows[0], sims[0]) if i >= 0 and (ok is None or ok[i])]
        return [(self._chunks[i].chunk_id, s) for i, s in hits[:k]]

    def lexical_search(self, tokens: Sequence[str], k: int, doc_ids: Collection[str] | None = None
                       ) -> list[tuple[str, float]]:
        if not len(self._chunks) or not tokens:
            return []
        scores = np.asarray(self._bm25.get_scores(list(tokens)), dtype=np.float64)
        if doc_ids is not None:
            scores[~self._mask(doc_ids)] = 0.0
        top = [i for i in np.argsort(-scores) if scores[i] > 0][:k]
        return [(self._chunks[i].chunk_id, float(scores[i])) for i in top]

    def doc_freq(self, token: str) -> int:
        tid = self._bm25.vocab_dict.get(token)
        if tid is None:
            return 0
        indptr = self._bm25.scores["indptr"]
        return int(indptr[tid + 1] - indptr[tid])


# ---------------------------------------------------------------- hashing / io helpers


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ---------------------------------------------------------------- build


def _previous_vectors(index_dir: Path, embedder: EmbedderInfo) -> dict[str, np.ndarray]:
    """text-hash -> vector from an existing index built by the same embedder (empty if none/unusable)."""
    try:
        manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
        # Format 2 differs only in not checksumming bm25/: its vectors are as good.
        if manifest.get("format_version") not in (2, FORMAT_VERSION) or manifest.get("embedder") != embedder.to_dict():
            return {}
        cache = {}
        for rows_file, vec_file, key in (("chunks.jsonl", "chunk_vectors.npy", "embed_sha"),
                                         ("clauses.jsonl", "clause_vectors.npy", "embed_sha")):
            for name in (rows_file, vec_file):  # never reuse vectors from files that fail their checksum
                check_file(index_dir / name, manifest["files"][name], "")
            rows = _read_jsonl(index_dir / rows_file)
            vecs = np.load(index_dir / vec_file, allow_pickle=False)
            if len(rows) != len(vecs):
                return {}
            for row, vec in zip(rows, vecs):
                cache[row[key]] = vec
        return cache
    except (OSError, ValueError, KeyError, IndexCorruptError):
        return {}


def _embed_with_cache(texts: list[str], embed: Callable[[list[str]], np.ndarray], cache: dict[str, np.ndarray],
                      dim: int) -> tuple[np.ndarray, list[str], int]:
    keys = [_sha(t) for t in texts]
    todo = [i for i, k in enumerate(keys) if k not in cache]
    out = np.zeros((len(texts), dim), dtype=np.float32)
    if todo:
        fresh = embed([texts[i] for i in todo])
        for j, i in enumerate(todo):
            out[i] = fresh[j]
            cache[keys[i]] = fresh[j]
    done = set(todo)
    for i, k in enumerate(keys):
        if i not in done:
            out[i] = cache[k]
    return out, keys, len(todo)


def build_index(documents: list[PlanDocument], embedder, index_dir: Path, *, chunk_size: int = 300,
                progress: bool = True, rebuild: bool = False, ignored: dict[str, str] | None = None,
                deadline: float | None = None) -> dict:
    """Chunk, embed (re-using vectors of unchanged text), index and atomically write `index_dir`.

    `deadline` (a time.monotonic() value) stops the build with IndexingTimeoutError once passed; nothing is
    written then, so the previous index stays as it was.

    Returns build statistics: counts, how many texts were embedded vs reused, seconds.
    """
    import bm25s
    import faiss
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # its per-build DEBUG line is noise for users
    index_dir = Path(index_dir)
    info: EmbedderInfo = embedder.info
    with index_lock(index_dir):
        clear_debris(index_dir)
        cache = {} if rebuild else _previous_vectors(index_dir, info)
        chunks: list[Chunk] = []
        clauses: list[Clause] = []
        for doc in documents:
            c, cl = chunk_document(doc, chunk_size)
            chunks.extend(c)
            clauses.extend(cl)
        tokenizer = Tokenizer(learn_indicator_terms([d.clean_text for d in documents]))

        chunk_texts = [c.indexed_text for c in chunks]
        # Clauses are embedded bare (short texts keep the build fast): which document and city a clause
        # belongs to is settled by chunk retrieval before clauses are compared with the question.
        clause_texts = [cl.text for cl in clauses]
        n_todo = sum(1 for t in chunk_texts + clause_texts if _sha(t) not in cache)
        bar = tqdm(total=n_todo, desc="embedding", unit="text", disable=not progress or n_todo == 0)
        def tick(n: int) -> None:
            bar.update(n)
            if deadline is not None and time.monotonic() > deadline:
                raise IndexingTimeoutError(f"indexing stopped after its time limit with {bar.n} of {n_todo} texts "
                                           "embedded; split the file into smaller documents, or raise the limit "
                                           "with POLICY_RAG_MAX_UPLOAD_SECONDS")

        embed = lambda texts: embedder.embed_passages(texts, progress=tick)  # noqa: E731
        chunk_vecs, chunk_keys, n1 = _embed_with_cache(chunk_texts, embed, cache, info.dimension)
        clause_vecs, clause_keys, n2 = _embed_with_cache(clause_texts, embed, cache, info.dimension)
        bar.close()

        dense = faiss.IndexFlatIP(info.dimension)
        dense.add(chunk_vecs)
        bm25 = bm25s.BM25()
        corpus_tokens = [tokenizer.search_tokens(t) or ["∅"] for t in chunk_texts]
        bm25.index(corpus_tokens, show_progress=False)
        # English -> Chinese corpus terms from CC-CEDICT, so English questions can be matched lexically.
        df = Counter(t for toks in corpus_tokens for t in set(toks))
        bridge = build_bridge(df.keys(), df, n_docs=len(chunks))

        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}.tmp-", dir=index_dir.parent))
        except OSError as exc:
            raise write_error(index_dir, exc) from exc
        try:
            faiss.write_index(dense, str(tmp / "dense.faiss"))
            np.save(tmp / "chunk_vectors.npy", chunk_vecs, allow_pickle=False)
            np.save(tmp / "clause_vectors.npy", clause_vecs, allow_pickle=False)
            bm25.save(str(tmp / "bm25"))
            tokenizer.save(tmp / "userdict.txt")
            (tmp / "bridge.json").write_text(json.dumps(bridge.to_json(), ensure_ascii=False), encoding="utf-8")
            _write_jsonl(tmp / "documents.jsonl", [
                {"doc_id": d.doc_id, "source": d.source, "sha256": d.sha256, "sidecar_sha256": d.sidecar_sha256,
                 "metadata": d.metadata.to_dict(),
                 "spans": [list(s) for s in d.spans], "page_starts": list(d.page_starts), "text": d.text}
                for d in documents])
            _write_jsonl(tmp / "chunks.jsonl", [{**c.to_dict(), "embed_sha": k} for c, k in zip(chunks, chunk_keys)])
            _write_jsonl(tmp / "clauses.jsonl", [{**c.to_dict(), "embed_sha": k} for c, k in zip(clauses, clause_keys)])
            manifest = {
                "format_version": FORMAT_VERSION,
                "pipeline_version": PIPELINE_VERSION,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "embedder": info.to_dict(),
                "chunk_size": chunk_size,
                "documents": {d.doc_id: {"source": d.source, "sha256": d.sha256, "title": d.metadata.title}
                              for d in documents},
                "counts": {"documents": len(documents), "chunks": len(chunks), "clauses": len(clauses)},
                # files of documents_dir that were not indexed (skipped by the loader) -> sha256 of their bytes
                "ignored": dict(sorted((ignored or {}).items())),
                "files": {name: file_sha(tmp / name) for name in checked_files(tmp)},
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
            # mkdtemp makes a private (0700) folder; an index is as readable as any folder the user makes.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)
            swap_in(tmp, index_dir)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError) and not isinstance(exc, IndexWriteError):
                raise write_error(index_dir, exc) from exc
            raise
    return {"documents": len(documents), "chunks": len(chunks), "clauses": len(clauses),
            "embedded": n1 + n2, "reused": len(chunks) + len(clauses) - n1 - n2,
            "seconds": round(time.perf_counter() - t0, 2)}


# ---------------------------------------------------------------- load


def load_index(index_dir: Path, *, expected_embedder: EmbedderInfo | None = None) -> LocalStore:
    """Load and check an index. Raises IndexNotFoundError / IndexCorruptError / EmbedderMismatchError.

    A builder may swap a new index in while this reads: when the folder changed under the reader, or a swap
    is half done, it reads again (for up to SWAP_WAIT_S) instead of reporting a half-read index as corrupt.
    """
    index_dir = Path(index_dir)
    deadline = time.monotonic() + SWAP_WAIT_S
    while True:
        before = manifest_identity(index_dir)
        try:
            return _load_once(index_dir, expected_embedder)
        except (IndexNotFoundError, IndexCorruptError) as exc:
            swapping = manifest_identity(index_dir) != before or (index_dir.parent / f".{index_dir.name}.old").exists()
            if not swapping or isinstance(exc, IndexVersionError) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _load_once(index_dir: Path, expected_embedder: EmbedderInfo | None) -> LocalStore:
    import faiss

    from ..bm25 import load_bm25

    recover(index_dir)
    rebuild = f"rebuild it with `rag index --rebuild --index-dir {index_dir}`"
    manifest_path = index_dir / "manifest.json"
    if not manifest_path.exists():
        raise IndexNotFoundError(f"no index at {index_dir}; build one with `rag index --index-dir {index_dir}`")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        version = manifest["format_version"]
        built_with = EmbedderInfo(**manifest["embedder"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"index manifest {manifest_path} is unreadable ({exc}); {rebuild}") from exc
    if version != FORMAT_VERSION:
        raise IndexVersionError(f"index at {index_dir} has format version {version}, this policy-rag reads "
                                f"{FORMAT_VERSION}; {rebuild}")
    if expected_embedder is not None and built_with != expected_embedder:
        found = (f"index at {index_dir} was built with embedder {built_with.name!r} ({built_with.dimension}-d) but "
                 f"the configured embedder is {expected_embedder.name!r} ({expected_embedder.dimension}-d)")
        if expected_embedder.name.startswith(LANGCHAIN_PREFIX):  # an object, which no command line can name
            raise EmbedderMismatchError(f"{found}; give these embeddings an index folder of their own "
                                        f"(Assistant.from_settings(index_dir=..., embedder=...)), or pass the "
                                        f"embedder this index was built with")
        raise EmbedderMismatchError(f"{found}; {rebuild} --embedder {expected_embedder.name}, or set the embedder "
                                    f"back to {built_with.name!r}")
    verify_files(index_dir, manifest, rebuild)
    try:
        docs = []
        for row in _read_jsonl(index_dir / "documents.jsonl"):
            docs.append(PlanDocument(
                doc_id=row["doc_id"], source=row["source"], text=row["text"],
                spans=tuple(tuple(s) for s in row["spans"]), metadata=DocumentMetadata.from_dict(row["metadata"]),
                sha256=row["sha256"], sidecar_sha256=row.get("sidecar_sha256", ""),
                page_starts=tuple(int(p) for p in row.get("page_starts", ()))))
        chunks = [Chunk(**{k: v for k, v in r.items() if k != "embed_sha"}) for r in _read_jsonl(index_dir / "chunks.jsonl")]
        clauses = [Clause(**{k: v for k, v in r.items() if k != "embed_sha"}) for r in _read_jsonl(index_dir / "clauses.jsonl")]
        dense = faiss.read_index(str(index_dir / "dense.faiss"))
        chunk_vectors = np.load(index_dir / "chunk_vectors.npy", allow_pickle=False)
        clause_vectors = np.load(index_dir / "clause_vectors.npy", allow_pickle=False)
        bm25 = load_bm25(index_dir / "bm25")  # numpy only: bm25s (and scipy) are for building
        tokenizer = Tokenizer.from_file(index_dir / "userdict.txt")
        bridge = TermBridge.from_json(json.loads((index_dir / "bridge.json").read_text(encoding="utf-8")))
        store = LocalStore(index_dir, manifest, docs, chunks, clauses, dense, chunk_vectors, clause_vectors, bm25,
                           tokenizer, bridge)
    except IndexCorruptError:
        raise
    except Exception as exc:  # any unreadable piece means the same thing to the user
        raise IndexCorruptError(f"index at {index_dir} is unreadable ({type(exc).__name__}: {exc}); {rebuild}") from exc
    if dense.ntotal != len(chunks) or len(chunk_vectors) != len(chunks) or len(clause_vectors) != len(clauses) \
            or dense.d != built_with.dimension:
        raise IndexCorruptError(f"index at {index_dir} is inconsistent (vector and chunk counts differ); {rebuild}")
    return store
