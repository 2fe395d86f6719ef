"""Incremental writes to a local index: add and remove documents touching only them, compaction when it pays,
and `sync_index`, which brings an index up to date with a folder of documents.

One write, under the folder's lock:
1. what a crashed write left (a segment folder or a file the manifest does not name) is deleted;
2. removed or replaced documents get tombstones, with the term counts and lengths they take out of BM25;
3. added documents are chunked, embedded (re-using the vectors of a replaced version) and written as a new
   segment (segments/.tmp-… renamed to segments/seg-NNNNNN); indicator terms learnt from them join the
   tokenizer's dictionary, and their terms new to the index join the term bridge;
4. compaction: a segment whose tombstones pass COMPACT_DEAD_SHARE of its chunks is rewritten without them, and
   more than MAX_SEGMENTS small segments at the end (what adds wrote) are merged into one, each in its place;
5. the new manifest replaces the old in one rename: the commit. Files it no longer names are deleted.
A crash before step 5 leaves the previous state, whole; after it, the new one.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Collection, Sequence

from ..bridge import build_bridge, merged_bridge
from ..documents import PlanDocument
from ..errors import EmbedderMismatchError, IndexCorruptError, IndexNotFoundError, IndexWriteError
from ..index_folder import check_file, clear_debris, index_lock, write_error
from ..store import PIPELINE_VERSION
from ..tokenize import Tokenizer
from .doc_freq import adjusted, save_table, segment_doc_freq
from .local import FORMAT_VERSION, LocalStore
from .local_open import _GLOBAL_FILE, GLOBAL_KEYS, _load_once, load_index
from .local_write import (COMPACT_DEAD_SHARE, MAX_SEGMENTS, _add_segment_files, _chunk, _global_files, _now,
                          _segment_vectors, _tokens, _write_jsonl, build_index, learn_terms)
from .segment_write import merge_segments, write_segment
from .write_embedding import WriteEmbedding

__all__ = ["add_documents", "remove_documents", "update_index", "compact", "sync_index", "REBUILD_SHARE"]

REBUILD_SHARE = 0.5  # sync_index rebuilds in full when this share of the documents (or more) changed
SMALL_SEGMENT = 50_000  # segments below this many chunks (what adds write) are merged once there are many


def add_documents(store: LocalStore, documents: Sequence[PlanDocument], embedder, *, progress: bool = False,
                  deadline: float | None = None) -> tuple[LocalStore, dict]:
    """Add (or replace, by doc_id) documents: one new segment. Returns the new snapshot and write stats."""
    return _write(Path(store.path), embedder, add=documents, progress=progress, deadline=deadline)


def remove_documents(store: LocalStore, doc_ids: Collection[str]) -> tuple[LocalStore, dict]:
    """Remove documents by id (tombstones; unknown ids are ignored). Returns the new snapshot and stats."""
    return _write(Path(store.path), None, remove=doc_ids)


def update_index(store: LocalStore, embedder, *, add: Sequence[PlanDocument] = (), remove: Collection[str] = (),
                 progress: bool = False, deadline: float | None = None) -> tuple[LocalStore, dict]:
    """Add (or replace) and remove documents in one write; a document added again unchanged is left as it is."""
    add = [d for d in add if (r := store.catalog.get(d.doc_id)) is None
           or (r.sha256, r.sidecar_sha256, r.source) != (d.sha256, d.sidecar_sha256, d.source)]
    if not add and not any(d in store.catalog for d in remove):
        return store, {**store.manifest["counts"], "added": 0, "removed": 0, "embedded": 0, "reused": 0}
    return _write(Path(store.path), embedder, add=add, remove=remove, progress=progress, deadline=deadline)


def compact(store: LocalStore) -> tuple[LocalStore, dict]:
    """Merge every segment into one, leaving out removed documents."""
    return _write(Path(store.path), None, compact_all=True)


def sync_index(documents: list[PlanDocument], embedder, index_dir: Path, *, chunk_size: int = 300,
               progress: bool = True, rebuild: bool = False, ignored: dict[str, str] | None = None,
               deadline: float | None = None, upgrade: bool = True) -> dict:
    """Make the index at `index_dir` hold exactly `documents`: only changed documents are written, unless a
    full build is due (no index, `rebuild`, another chunk size, another pipeline version unless not `upgrade`,
    or REBUILD_SHARE of the documents changed, when relearning the dictionary and bridge from the whole corpus
    costs little more)."""
    index_dir = Path(index_dir)
    try:
        current = None if rebuild else load_index(index_dir, expected_embedder=embedder.info)
    except (IndexNotFoundError, IndexCorruptError, EmbedderMismatchError):
        current = None
    if current is None or current.manifest.get("chunk_size") != chunk_size \
            or (upgrade and current.manifest.get("pipeline_version") != PIPELINE_VERSION):
        return build_index(documents, embedder, index_dir, chunk_size=chunk_size, progress=progress, rebuild=rebuild,
                           ignored=ignored, deadline=deadline)
    wanted = {d.doc_id: d for d in documents}
    changed = [d for d in wanted.values() if (r := current.catalog.get(d.doc_id)) is None
               or (r.sha256, r.sidecar_sha256, r.source) != (d.sha256, d.sidecar_sha256, d.source)]
    removed = [d for d in current.catalog if d not in wanted]
    if len(changed) + len(removed) >= REBUILD_SHARE * max(1, len(wanted)):
        return build_index(documents, embedder, index_dir, chunk_size=chunk_size, progress=progress, ignored=ignored,
                           deadline=deadline)
    if not changed and not removed and (ignored is None or ignored == current.manifest.get("ignored")):
        return {**current.manifest["counts"], "embedded": 0, "reused": 0, "seconds": 0.0}
    _, stats = _write(index_dir, embedder, add=changed, remove=removed, ignored=ignored, progress=progress,
                      deadline=deadline)
    return stats


# ---------------------------------------------------------------- one write


def _write(index_dir: Path, embedder, *, add: Sequence[PlanDocument] = (), remove: Collection[str] = (),
           ignored: dict[str, str] | None = None, compact_all: bool = False, progress: bool = False,
           deadline: float | None = None) -> tuple[LocalStore, dict]:
    t0 = time.perf_counter()
    with index_lock(index_dir):
        clear_debris(index_dir)
        current = _load_once(index_dir, embedder.info if embedder is not None else None)
        _delete_unnamed(index_dir, current.manifest)
        try:
            stats = _write_locked(index_dir, current, embedder, add, remove, ignored, compact_all, progress, deadline)
        except OSError as exc:
            if isinstance(exc, IndexWriteError):
                raise
            raise write_error(index_dir, exc) from exc
        finally:
            _delete_unnamed(index_dir, read_committed(index_dir) or current.manifest)
    store = load_index(index_dir)
    return store, {"documents": len(store.catalog), "chunks": store.chunk_count(),
                   "clauses": store.manifest["counts"]["clauses"], **stats,
                   "seconds": round(time.perf_counter() - t0, 2)}


def read_committed(index_dir: Path) -> dict | None:
    try:
        return json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_locked(index_dir: Path, current: LocalStore, embedder, add, remove, ignored, compact_all, progress,
                  deadline) -> dict:
    manifest = copy.deepcopy(current.manifest)
    gen = int(manifest["generation"]) + 1
    add = list({d.doc_id: d for d in add}.values())
    replaced = [d.doc_id for d in add if d.doc_id in current.catalog]
    removing = list(dict.fromkeys([d for d in remove if d in current.catalog] + replaced))
    tombstones = copy.deepcopy(current.tombstones)
    for doc_id in removing:
        si, row = current._where[doc_id]
        seg = current.segments[si]
        lo, hi = int(seg.doc_chunks[row]), int(seg.doc_chunks[row + 1])
        df, tokens = seg.term_counts(lo, hi)
        t = tombstones.setdefault(seg.name, {"docs": [], "df": {}, "chunks": 0, "clauses": 0, "tokens": 0})
        t["docs"].append(doc_id)
        for h, n in df.items():
            t["df"][str(h)] = t["df"].get(str(h), 0) + n
        t["chunks"] += hi - lo
        t["clauses"] += int(seg.chunk_clauses[hi]) - int(seg.chunk_clauses[lo])
        t["tokens"] += tokens
    tokenizer, bridge, embedding = current.tokenizer, current.bridge, None
    added_segments: list[Path] = []  # segment folders this write adds and drops: the df table follows them
    dropped_segments: list[Path] = []
    if add:
        chunks, clauses = _chunk(add, int(manifest["chunk_size"]))
        learned = set(learn_terms(add)) - set(tokenizer.user_terms)
        if learned:  # the added documents' indicator terms join the dictionary; earlier chunks keep their tokens
            tokenizer = Tokenizer(sorted(set(tokenizer.user_terms) | learned))
        cache: dict = {}
        for si in {current._where[d][0] for d in replaced}:
            cache.update(_segment_vectors(current.segments[si], set(replaced)))
        chunk_texts, clause_texts = [c.indexed_text for c in chunks], [cl.text for cl in clauses]
        # What it embeds is kept beside the index until the manifest is committed (a killed write resumes).
        embedding = WriteEmbedding(embedder, cache, index_dir=index_dir, progress=progress, deadline=deadline)
        embed = embedding.segment(chunk_texts + clause_texts)
        chunk_vecs, chunk_keys = embed(chunk_texts)
        clause_vecs, clause_keys = embed(clause_texts)
        embedding.close()
        tokens = _tokens(tokenizer, chunks)
        df = Counter(t for toks in tokens for t in set(toks))
        fresh = [t for t in df if current.doc_freq(t) == 0]
        if fresh:  # terms the index never had: what English words reach them is learnt now
            live = int(manifest["counts"]["chunks"]) + len(chunks)
            bridge = merged_bridge(bridge, build_bridge(fresh, df, n_docs=live))
        name = f"seg-{int(manifest['next_segment']):06d}"
        manifest["next_segment"] = int(manifest["next_segment"]) + 1
        tmp = index_dir / "segments" / f".tmp-{name}"
        tmp.mkdir(parents=True)
        entry = {"name": name, **write_segment(tmp, add, chunks, clauses, chunk_vecs, clause_vecs, tokens, chunk_keys,
                                               clause_keys, clause_dtype=manifest["vectors"]["clauses"],
                                               write_jsonl=_write_jsonl)}
        os.replace(tmp, index_dir / "segments" / name)
        manifest["segments"].append(entry)
        _add_segment_files(manifest, index_dir / "segments" / name, entry)
        added_segments.append(index_dir / "segments" / name)
    compacted = _compact(index_dir, manifest, current, tombstones, compact_all, added_segments, dropped_segments)
    live = {k: sum(int(e[k]) for e in manifest["segments"]) - sum(int(t[k]) for t in tombstones.values())
            for k in ("chunks", "clauses", "tokens")}
    manifest["counts"] = {"documents": sum(int(e["documents"]) for e in manifest["segments"])
                          - sum(len(t["docs"]) for t in tombstones.values()),
                          "chunks": live["chunks"], "clauses": live["clauses"]}
    manifest["lexical"].update(chunks=live["chunks"], tokens=live["tokens"])
    if tokenizer is not current.tokenizer:
        _replace_global(index_dir, manifest, "userdict", f"userdict-{gen}.txt", lambda p: tokenizer.save(p))
    if bridge is not current.bridge:
        _replace_global(index_dir, manifest, "bridge", f"bridge-{gen}.json", lambda p: p.write_text(
            json.dumps(bridge.to_json(), ensure_ascii=False), encoding="utf-8"))
    if added_segments or dropped_segments or "doc_freq" not in manifest:
        table = adjusted(current.doc_freqs.table, plus=map(segment_doc_freq, added_segments),
                         minus=map(segment_doc_freq, dropped_segments))
        _replace_global(index_dir, manifest, "doc_freq", f"doc_freq-{gen}.npy", lambda p: save_table(p, table))
        manifest["format_version"] = FORMAT_VERSION  # a format-4 index has its table now
    if tombstones != current.tombstones:
        _replace_global(index_dir, manifest, "tombstones", f"tombstones-{gen}.json", lambda p: p.write_text(
            json.dumps(tombstones, ensure_ascii=False), encoding="utf-8"))
    if ignored is not None:
        manifest["ignored"] = dict(sorted(ignored.items()))
    manifest.update(generation=gen, updated_at=_now())
    tmp_manifest = index_dir / "manifest.json.tmp"
    tmp_manifest.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    if embedding is not None:  # the segment holds the vectors: the embedding cache goes before the commit
        embedding.finished()
    os.replace(tmp_manifest, index_dir / "manifest.json")  # the commit
    counts = embedding.stats() if embedding is not None else {"embedded": 0, "reused": 0}
    return {"added": len(add), "removed": len(removing) - len(replaced), "replaced": len(replaced),
            **counts, "segments": len(manifest["segments"]), "compacted": compacted}


def _replace_global(index_dir: Path, manifest: dict, key: str, name: str, write) -> None:
    old = manifest.get(key)
    write(index_dir / name)
    for table in ("files", "sizes"):
        manifest[table].pop(old, None)
    files, sizes = _global_files(index_dir, [name])
    manifest["files"].update(files)
    manifest["sizes"].update(sizes)
    manifest[key] = name


def _compact(index_dir: Path, manifest: dict, current: LocalStore, tombstones: dict, compact_all: bool,
             added: list[Path], dropped: list[Path]) -> bool:
    """Rewrite what pays (see the module docstring), each run of segments merged into one in its place, so
    documents keep their order; the folders merged go to `dropped`, the merged ones to `added`. True when
    anything was rewritten."""
    entries = manifest["segments"]
    runs = [(i, i + 1) for i, e in enumerate(entries)
            if tombstones.get(e["name"], {}).get("chunks", 0) > COMPACT_DEAD_SHARE * max(1, int(e["chunks"]))]
    tail = len(entries)
    while tail and int(entries[tail - 1]["chunks"]) < SMALL_SEGMENT:
        tail -= 1
    if len(entries) - tail > MAX_SEGMENTS:  # many small segments from adds: merged into one
        runs = [r for r in runs if r[0] < tail] + [(tail, len(entries))]
    if compact_all:
        runs = [(0, len(entries))]
    for start, end in reversed(runs):
        run = entries[start:end]
        entries[start:end] = merged = _merged(index_dir, manifest, current, tombstones, run)
        dropped.extend(index_dir / "segments" / e["name"] for e in run)
        added.extend(index_dir / "segments" / e["name"] for e in merged)
    return bool(runs)


def _merged(index_dir: Path, manifest: dict, current: LocalStore, tombstones: dict, run: list[dict]) -> list[dict]:
    """One segment holding the live documents of `run` (none when they were all removed); the run's segments,
    files and tombstones leave the manifest."""
    from .segments import Segment

    opened = {s.name: s for s in current.segments}
    parts = []
    for e in run:
        folder = index_dir / "segments" / e["name"]
        for leaf in folder.iterdir():  # what is copied is checked in full
            name = f"segments/{e['name']}/{leaf.name}"
            check_file(leaf, manifest["files"][name], f"rebuild it with `rag index --rebuild --index-dir {index_dir}`")
        seg = opened.get(e["name"]) or Segment(folder, e, int(manifest["embedder"]["dimension"]))
        parts.append((seg, set(tombstones.get(e["name"], {}).get("docs", ()))))
    name = f"seg-{int(manifest['next_segment']):06d}"
    manifest["next_segment"] = int(manifest["next_segment"]) + 1
    tmp = index_dir / "segments" / f".tmp-{name}"
    tmp.mkdir(parents=True)
    entry = {"name": name, **merge_segments(tmp, parts, write_jsonl=_write_jsonl)}
    for e in run:
        tombstones.pop(e["name"], None)
        for table in ("files", "sizes"):
            for key in [k for k in manifest[table] if k.startswith(f"segments/{e['name']}/")]:
                del manifest[table][key]
    if not entry["documents"]:
        shutil.rmtree(tmp, ignore_errors=True)
        return []
    os.replace(tmp, index_dir / "segments" / name)
    _add_segment_files(manifest, index_dir / "segments" / name, entry)
    return [entry]


def _delete_unnamed(index_dir: Path, manifest: dict) -> None:
    """Delete what a manifest does not name: a crashed write's segment or files, a compaction's old segments.
    Only under the lock, so no write is in progress; readers hold what they use open (memory-mapped)."""
    names = {manifest.get(k) for k in GLOBAL_KEYS}
    for path in index_dir.iterdir():
        if (path.is_file() and _GLOBAL_FILE.fullmatch(path.name) and path.name not in names) \
                or path.name == "manifest.json.tmp":
            path.unlink(missing_ok=True)
    segments = index_dir / "segments"
    if segments.is_dir():
        keep = {e["name"] for e in manifest.get("segments", ())}
        for path in segments.iterdir():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() and not path.is_symlink() \
                    else path.unlink(missing_ok=True)
