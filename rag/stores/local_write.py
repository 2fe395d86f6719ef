"""Writing the local index: a full build (here), and incremental writes (rag/stores/local_update.py).

- `build_index`: every document into one new segment, in a sibling temporary folder swapped in by rename
  (rag/index_folder.py), re-using the vectors of unchanged text. The tokenizer's dictionary and the term
  bridge are learnt from the whole corpus.
- `add_documents` / `remove_documents`: a new segment with the added documents, and tombstones for removed
  (or replaced) ones; the manifest is replaced in one rename, so a crash at any point leaves the previous
  state or the new one, never half of one. Indicator terms learnt from the added documents join the
  dictionary (earlier chunks keep their tokens) and their new terms join the bridge; a full build relearns both.
- compaction, in the same write, when it pays: segments whose tombstones hold over 30% of their chunks, or
  more than MAX_SEGMENTS segments, are merged into one (rows copied, nothing re-embedded or re-tokenised).
- `sync_index`: brings an index up to date with a folder's documents, incrementally, or by a full build when
  there is none yet, it is of another pipeline/chunking, or half the documents or more changed.
- `build_index_from_vectors`: a full build from given vectors (benchmarks; no embedding model).

Writers take the folder's lock; readers never wait for them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Collection, Iterable, Sequence

import numpy as np

from ..bridge import build_bridge
from ..chunking import Chunk, Clause, chunk_document, chunk_in_batches
from ..documents import PlanDocument
from ..encoders import EmbedderInfo
from ..errors import IndexCorruptError, IndexNotFoundError, IndexWriteError
from ..index_folder import check_file, clear_debris, file_sha, index_lock, swap_in, write_error
from ..store import PIPELINE_VERSION
from ..tokenize import Tokenizer, learn_indicator_terms
from .doc_freq import save_table, table_of
from .base import index_order
from .local import FORMAT_VERSION, READABLE_FORMATS
from .local_open import read_manifest
from .segment_write import segment_files, write_segment
from .segments import EMPTY_TOKEN, Segment
from .write_embedding import WriteEmbedding

__all__ = ["build_index", "build_index_from_vectors", "previous_vectors", "learn_terms", "CLAUSE_DTYPE", "MAX_SEGMENTS",
           "COMPACT_DEAD_SHARE"]

log = logging.getLogger(__name__)
CLAUSE_DTYPE = "float16"  # clause vectors on disk (chunk vectors stay float32 for FAISS); see README "Index format"
MAX_SEGMENTS = 8  # more than this and the smaller segments are merged
COMPACT_DEAD_SHARE = 0.30  # a segment whose removed chunks pass this share of its chunks is rewritten
BUILD_SEGMENT_CHUNKS = 100_000  # a full build writes a segment per this many chunks
LEARN_BATCH_CHARS = 500_000  # indicator terms are learnt per batch of this much text (the learning is quadratic)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_jsonl(path: Path, lines: Iterable[str]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        f.writelines(lines)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---------------------------------------------------------------- preparing documents


def _chunk(documents: Sequence[PlanDocument], chunk_size: int) -> tuple[list[Chunk], list[Clause]]:
    chunks: list[Chunk] = []
    clauses: list[Clause] = []
    for doc in documents:
        c, cl = chunk_document(doc, chunk_size)
        chunks.extend(c)
        clauses.extend(cl)
    return chunks, clauses


def learn_terms(documents: Sequence[PlanDocument]) -> list[str]:
    """Indicator terms of these documents, learnt together (in batches of LEARN_BATCH_CHARS characters)."""
    terms: set[str] = set()
    batch: list[str] = []
    size = 0
    # clean texts made one at a time, not all at once (a 1M-chunk corpus's are ~600 MB)
    for text in itertools.chain((d.clean_text for d in documents), [None]):
        if text is None or (batch and size + len(text) > LEARN_BATCH_CHARS):
            terms.update(learn_indicator_terms(batch) if batch else ())
            batch, size = [], 0
        if text is not None:
            batch.append(text)
            size += len(text)
    return sorted(terms)


def _tokens(tokenizer: Tokenizer, chunks: Sequence[Chunk]) -> list[list[str]]:
    # Interned: jieba makes a new string of every token, and a segment's ~10M tokens are ~50k distinct words
    # (770 MB of strings at 100k chunks, held until the segment is written, against a few MB).
    return [[sys.intern(t) for t in tokenizer.search_tokens(c.indexed_text)] or [EMPTY_TOKEN] for c in chunks]


def previous_vectors(index_dir: Path, info: EmbedderInfo, doc_ids: Collection[str] | None = None) -> dict:
    """text sha -> vector from an index folder built by the same embedder (only `doc_ids`' texts when given);
    empty when there is none, or it is unusable. Files whose checksum fails are never re-used."""
    try:
        manifest = read_manifest(Path(index_dir))
        if manifest.get("embedder") != info.to_dict():
            return {}
        if manifest.get("format_version") in (2, 3):  # one folder of files (before segments)
            cache = {}
            for rows_file, vec_file in (("chunks.jsonl", "chunk_vectors.npy"), ("clauses.jsonl", "clause_vectors.npy")):
                for name in (rows_file, vec_file):
                    check_file(index_dir / name, manifest["files"][name], "")
                with (index_dir / rows_file).open(encoding="utf-8") as f:
                    shas = [json.loads(line)["embed_sha"] for line in f if line.strip()]
                vecs = np.load(index_dir / vec_file, allow_pickle=False)
                if len(shas) != len(vecs):
                    return {}
                cache.update(zip(shas, vecs))
            return cache
        if manifest.get("format_version") not in READABLE_FORMATS:
            return {}
        cache = {}
        for entry in manifest["segments"]:
            folder = Path(index_dir) / "segments" / entry["name"]
            for leaf in ("chunks.jsonl", "chunks.offsets.npy", "clauses.jsonl", "clauses.offsets.npy",
                         "chunk_vectors.npy", "clause_vectors.npy", "chunk_clauses.npy", "records.jsonl",
                         "doc_chunks.npy"):
                name = f"segments/{entry['name']}/{leaf}"
                check_file(index_dir / name, manifest["files"][name], "")
            seg = Segment(folder, entry, info.dimension)
            cache.update(_segment_vectors(seg, doc_ids))
        return cache
    except (OSError, ValueError, KeyError, TypeError, IndexCorruptError, IndexNotFoundError):
        return {}


def _segment_vectors(seg: Segment, doc_ids: Collection[str] | None) -> dict[str, np.ndarray]:
    out = {}
    for row, rec in enumerate(seg.records):
        if doc_ids is not None and rec.doc_id not in doc_ids:
            continue
        lo, hi = int(seg.doc_chunks[row]), int(seg.doc_chunks[row + 1])
        for i, r in enumerate(seg.chunk_rows.range(lo, hi)):
            out[r["embed_sha"]] = np.array(seg.chunk_vectors[lo + i], dtype=np.float32)
        clo, chi = int(seg.chunk_clauses[lo]), int(seg.chunk_clauses[hi])
        for i, r in enumerate(seg.clause_rows.range(clo, chi)):
            out[r["embed_sha"]] = np.array(seg.clause_vectors[clo + i], dtype=np.float32)
    return out


# ---------------------------------------------------------------- the manifest


def _global_files(folder: Path, names: Sequence[str]) -> tuple[dict, dict]:
    return ({n: file_sha(folder / n) for n in names}, {n: (folder / n).stat().st_size for n in names})


def _add_segment_files(manifest: dict, folder: Path, entry: dict) -> None:
    for leaf, (sha, size) in segment_files(folder, entry).items():
        manifest["files"][f"segments/{entry['name']}/{leaf}"] = sha
        manifest["sizes"][f"segments/{entry['name']}/{leaf}"] = size


def _public_permissions(folder: Path) -> None:
    """mkdtemp makes a private (0700) folder; an index is as readable as any folder the user makes."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)


# ---------------------------------------------------------------- full build


def build_index(documents: list[PlanDocument], embedder, index_dir: Path, *, chunk_size: int = 300,
                progress: bool = True, rebuild: bool = False, ignored: dict[str, str] | None = None,
                deadline: float | None = None, resumable: bool = True) -> dict:
    """Chunk, embed (re-using vectors of unchanged text), index and atomically write `index_dir`: one segment
    per BUILD_SEGMENT_CHUNKS chunks (so a build holds one such batch in memory, not the corpus).

    `deadline` (a time.monotonic() value) stops the build with IndexingTimeoutError once passed; nothing is
    written then, so the previous index stays as it was. With `resumable`, what is embedded is also kept in
    an embedding cache beside the index until the build finishes, so a build that is killed (or stopped)
    re-uses it next time (rag/stores/write_embedding.py). Returns counts, texts embedded vs reused (and of those
    resumed), embedding seconds and texts/s, seconds.
    """
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    info: EmbedderInfo = embedder.info
    with index_lock(index_dir):
        clear_debris(index_dir)
        cache = {} if rebuild else previous_vectors(index_dir, info)
        tokenizer = Tokenizer(learn_terms(documents))  # in the given order: it learns per batch of text
        documents = index_order(documents)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}.tmp-", dir=index_dir.parent))
        except OSError as exc:
            raise write_error(index_dir, exc) from exc
        embedding = WriteEmbedding(embedder, cache, index_dir=index_dir if resumable else None, progress=progress,
                                   deadline=deadline)
        try:
            stats = _write_full(tmp, documents, embedder, embedding, tokenizer, chunk_size, ignored)
            _public_permissions(tmp)
            # The new index holds every vector now: the embedding cache goes before the swap, so a crash
            # after it leaves no cache behind (one in the instant before it only costs re-embedding).
            embedding.finished()
            swap_in(tmp, index_dir)
        except BaseException as exc:
            embedding.close()
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError) and not isinstance(exc, IndexWriteError):
                raise write_error(index_dir, exc) from exc
            raise
    return {**stats, "seconds": round(time.perf_counter() - t0, 2)}


def build_index_from_vectors(documents: list[PlanDocument], vectors_for: Callable[[list[str]], np.ndarray],
                             info: EmbedderInfo, index_dir: Path, *, chunk_size: int = 300, progress: bool = False
                             ) -> dict:
    """A full build whose vectors come from `vectors_for(texts) -> (n, info.dimension) float32` instead of an
    embedding model: for benchmarks and tests that need a large index fast (say so where figures are shown)."""
    class Given:
        def __init__(self):
            self.info = info

        def embed_passages(self, texts, progress=None):
            out = np.asarray(vectors_for(list(texts)), dtype=np.float32)
            if progress:
                progress(len(texts))
            return out

    return build_index(documents, Given(), index_dir, chunk_size=chunk_size, progress=progress, rebuild=True,
                       resumable=False)


def _write_full(tmp: Path, documents, embedder, embedding: WriteEmbedding, tokenizer: Tokenizer, chunk_size: int,
                ignored) -> dict:
    info: EmbedderInfo = embedder.info
    df: Counter = Counter()
    entries, files, sizes = [], {}, {}
    # a segment per BUILD_SEGMENT_CHUNKS chunks; an index of no documents still has its (empty) segment
    batches = chunk_in_batches(documents, chunk_size, BUILD_SEGMENT_CHUNKS) if documents else [([], [], [])]
    for number, (docs, chunks, clauses) in enumerate(batches, start=1):
        chunk_texts = [c.indexed_text for c in chunks]
        # Clauses are embedded bare (short texts keep the build fast): which document and city a clause
        # belongs to is settled by chunk retrieval before clauses are compared with the question.
        clause_texts = [cl.text for cl in clauses]
        embed = embedding.segment(chunk_texts + clause_texts)
        chunk_vecs, chunk_keys = embed(chunk_texts)  # chunks first: a clause of the same text re-uses it
        clause_vecs, clause_keys = embed(clause_texts, dtype=CLAUSE_DTYPE)  # as stored: half the memory
        tokens = _tokens(tokenizer, chunks)
        df.update(t for toks in tokens for t in set(toks))
        folder = tmp / "segments" / f"seg-{number:06d}"
        folder.mkdir(parents=True)
        entry = {"name": folder.name, **write_segment(folder, docs, chunks, clauses, chunk_vecs, clause_vecs, tokens,
                                                      chunk_keys, clause_keys, clause_dtype=CLAUSE_DTYPE,
                                                      write_jsonl=_write_jsonl)}
        entries.append(entry)
        embedding.end_segment()
        for leaf, (sha, size) in segment_files(folder, entry).items():
            files[f"segments/{folder.name}/{leaf}"], sizes[f"segments/{folder.name}/{leaf}"] = sha, size
        # Let this segment's rows, vectors and tokens go before the next batch is chunked and embedded, or two
        # segments' worth (~2.5 GB at 100k chunks) would be held at once.
        del docs, chunks, clauses, chunk_texts, clause_texts, embed, chunk_vecs, chunk_keys, clause_vecs, clause_keys
        del tokens
    n = {k: sum(int(e[k]) for e in entries) for k in ("documents", "chunks", "clauses", "tokens")}
    # English -> Chinese corpus terms from CC-CEDICT, so English questions can be matched lexically.
    bridge = build_bridge(df.keys(), df, n_docs=n["chunks"])
    tokenizer.save(tmp / "userdict-1.txt")
    (tmp / "bridge-1.json").write_text(json.dumps(bridge.to_json(), ensure_ascii=False), encoding="utf-8")
    (tmp / "tombstones-1.json").write_text("{}", encoding="utf-8")
    save_table(tmp / "doc_freq-1.npy", table_of(tmp / "segments" / e["name"] for e in entries))
    more_files, more_sizes = _global_files(tmp, ["userdict-1.txt", "bridge-1.json", "tombstones-1.json",
                                                 "doc_freq-1.npy"])
    manifest = {
        "format_version": FORMAT_VERSION, "pipeline_version": PIPELINE_VERSION, "created_at": _now(),
        "updated_at": _now(), "generation": 1, "embedder": info.to_dict(), "chunk_size": chunk_size,
        "counts": {"documents": n["documents"], "chunks": n["chunks"], "clauses": n["clauses"]},
        "lexical": {"method": "lucene", "k1": 1.5, "b": 0.75, "chunks": n["chunks"], "tokens": n["tokens"]},
        "vectors": {"chunks": "float32", "clauses": CLAUSE_DTYPE},
        "userdict": "userdict-1.txt", "bridge": "bridge-1.json", "tombstones": "tombstones-1.json",
        "doc_freq": "doc_freq-1.npy",
        "segments": entries, "next_segment": len(entries) + 1,
        # files of documents_dir that were not indexed (skipped by the loader) -> sha256 of their bytes
        "ignored": dict(sorted((ignored or {}).items())),
        "files": {**files, **more_files}, "sizes": {**sizes, **more_sizes},
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    embedding.close()
    return {"documents": n["documents"], "chunks": n["chunks"], "clauses": n["clauses"], **embedding.stats(),
            "segments": len(entries)}
