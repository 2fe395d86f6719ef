"""The documents an Assistant answers from: listing them, adding and removing them, and updating the index.

`DocumentLibrary` is mixed into `rag.assistant.Assistant`; it owns the index snapshot's life cycle. Adding or
removing a document writes only that document's change (a new segment or a tombstone locally, rows in Milvus;
rag/stores/) and swaps the new snapshot in one assignment, so questions being answered meanwhile keep reading
the old one, and a failed change loses nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .documents import (SUPPORTED_SUFFIXES, PlanDocument, candidate_files, content_sha256, doc_id_for, load_document,
                        load_documents, parse_document, sidecar_sha256)
from .errors import DocumentLoadError
from .loaders import BINARY_SUFFIXES, refuse_format
from .query import PlaceCatalog
from .settings import Settings
from .stores.base import Store
from .stores.backends import build_store, load_store, update_store

__all__ = ["DocumentLibrary", "MAX_UPLOAD_BYTES", "MAX_BINARY_UPLOAD_BYTES"]

log = logging.getLogger(__name__)
MAX_UPLOAD_BYTES = 2_000_000  # Assistant.max_upload_bytes
# A PDF carries its fonts (and often a scanned seal): many more bytes for the same text. Its text is bounded by
# max_upload_chars like any other upload's.
MAX_BINARY_UPLOAD_BYTES = 20_000_000  # Assistant.max_binary_upload_bytes


@dataclass(frozen=True)
class _Snapshot:
    index: Store
    catalog: PlaceCatalog

    @classmethod
    def of(cls, index: Store) -> "_Snapshot":
        return cls(index, PlaceCatalog.from_metadata({d.doc_id: d.metadata for d in index.catalog.values()}))


class DocumentLibrary:
    """Document management for Assistant (expects `settings`, `embedder`, `_snapshot`, `_write_lock`)."""

    max_upload_bytes = MAX_UPLOAD_BYTES
    max_binary_upload_bytes = MAX_BINARY_UPLOAD_BYTES

    def upload_limit(self, filename: str) -> int:
        """The most bytes an upload of this name may have (PDF and DOCX files get more)."""
        return self.max_binary_upload_bytes if Path(filename).suffix.lower() in BINARY_SUFFIXES else self.max_upload_bytes

    def documents(self) -> list[dict]:
        """The indexed documents' metadata, with chunk counts."""
        index = self._snapshot.index
        # Each field's evidence span and the text it holds: where the value was read from.
        return [{**d.metadata.to_dict(), "doc_id": d.doc_id, "source": d.source, "chunks": d.chunks,
                 "characters": d.characters,
                 "evidence_text": _evidence_text(index, d)}
                for d in index.catalog.values()]

    def places(self) -> list[str]:
        """Labels of the places that have plans (绍兴, 温州市洞头区, 湖南省): what `city=` accepts, among others."""
        return self._snapshot.catalog.cities

    def document_text(self, doc_id: str) -> str:
        """The stored text of an indexed document: citation offsets point into this string."""
        index = self._snapshot.index
        if doc_id not in index.catalog:
            raise DocumentLoadError(f"no indexed document with id {doc_id!r}")
        return index.document(doc_id).text

    def add_document(self, filename: str, data: bytes, *, progress: bool = False) -> dict:
        """Save an uploaded plan into documents_dir and index it incrementally. Nothing is lost on failure."""
        self._refuse_if_read_only()
        name = Path(filename).name  # no directories: an upload cannot escape documents_dir
        name = re.sub(r"[^\w.\-\u4e00-\u9fff]+", "_", name).lstrip(".")
        suffix = Path(name).suffix.lower()
        if (refused := refuse_format(filename, suffix)) is not None:
            raise refused
        if suffix not in SUPPORTED_SUFFIXES:
            raise DocumentLoadError(f"{filename}: unsupported file type; upload one of {', '.join(SUPPORTED_SUFFIXES)}")
        if len(data) > (limit := self.upload_limit(name)):
            raise DocumentLoadError(f"{filename}: {len(data)} bytes is over the {limit}-byte upload limit")
        # Refuse undecodable, binary, scanned or damaged input before anything touches the disk.
        parsed = parse_document(filename, data)
        # Indexing time grows with the text to embed (its clean spans), not with the bytes: bound that first.
        chars = sum(end - start for start, end in parsed.spans)
        limit = self.settings.max_upload_chars
        if chars > limit:
            raise DocumentLoadError(
                f"{filename}: {chars:,} characters of text is over the {limit:,}-character upload limit "
                f"(max_upload_chars); split the file into smaller documents, or raise the limit with "
                f"POLICY_RAG_MAX_UPLOAD_CHARS")
        with self._write_lock:
            target = _upload_target(self.settings.documents_dir, name, data)
            existed = target.exists()  # the same bytes uploaded again: the file is the user's, never ours to delete
            tmp = target.with_name(f".{target.name}.uploading")
            try:
                tmp.write_bytes(data)
                doc = load_document(tmp.rename(target), root=self.settings.documents_dir.parent)
                stats = self._index_changes(progress, time.monotonic() + self.settings.max_upload_seconds, add=[doc])
            except Exception:
                tmp.unlink(missing_ok=True)
                if not existed:
                    target.unlink(missing_ok=True)
                raise
        return {"saved_as": target.name, **stats}

    def remove_document(self, doc_id: str, *, progress: bool = False) -> dict:
        self._refuse_if_read_only()
        with self._write_lock:
            doc = self._snapshot.index.catalog.get(doc_id)
            if doc is None:
                raise DocumentLoadError(f"no indexed document with id {doc_id!r}")
            path = self.settings.documents_dir / Path(doc.source).name
            backup = path.read_bytes() if path.exists() else None
            path.unlink(missing_ok=True)
            try:
                return self._index_changes(progress, remove=[doc_id])
            except Exception:
                if backup is not None:
                    path.write_bytes(backup)
                raise

    def _refuse_if_read_only(self) -> None:
        """The sample plans installed with the package live in site-packages: never written to."""
        if self.settings.uses_bundled_samples:
            raise DocumentLoadError(
                f"{self.settings.documents_dir} holds the sample plans installed with policy-rag and cannot be "
                "changed; to add or remove plans, use a folder of your own: Settings(documents_dir=...), "
                "POLICY_RAG_DOCUMENTS_DIR, or run in a folder that has a documents/ folder")

    def _index_changes(self, progress: bool = False, deadline: float | None = None, *,
                       add: Sequence[PlanDocument] = (), remove: Sequence[str] = ()) -> dict:
        """Write only these documents' changes into the index and swap the new snapshot in; when this fails
        (disk full, the upload's time limit), the index stays as it was."""
        store, _ = update_store(self._snapshot.index, self.embedder, add=add, remove=remove, progress=progress,
                                deadline=deadline, index_dir=self.settings.index_dir)
        self._snapshot = _Snapshot.of(store)
        return {"documents": len(store.catalog), "chunks": store.chunk_count(), "warnings": []}


def _evidence_text(index: Store, record) -> dict[str, str]:
    """Each metadata field's evidence span as text (the document is read only when it has any)."""
    evidence = record.metadata.evidence
    if not evidence:
        return {}
    text = index.document(record.doc_id).text
    return {k: text[s:e] for k, (s, e) in evidence.items()}


def _upload_target(documents_dir: Path, name: str, data: bytes) -> Path:
    """Where an upload is saved: its own name unless another file holds that name, or another document would
    get the same id ("yingtan.2025…" and "yingtan_2025…" both read as yingtan_2025…) — then name_2, name_3 …
    An upload never replaces or shadows an existing plan."""
    def taken(path: Path) -> bool:
        if path.exists():
            return path.read_bytes() != data
        doc_id = doc_id_for(path)
        return any(p.name != path.name and doc_id_for(p) == doc_id for p in documents_dir.iterdir()
                   if p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith("."))

    target, n = documents_dir / name, 2
    while taken(target):
        target = documents_dir / f"{Path(name).stem}_{n}{Path(name).suffix}"
        n += 1
    return target


def _build(settings: Settings, embedder, progress: bool, deadline: float | None = None, *,
           upgrade: bool = True) -> tuple[Store, list[str]]:
    if progress:
        print(f"building the index at {settings.index_dir} from {settings.documents_dir} "
              "(first run or documents changed; unchanged text is not re-embedded)…", file=sys.stderr, flush=True)
    documents, warnings = load_documents(settings.documents_dir, root=settings.documents_dir.parent)
    for w in warnings:
        log.warning(w)
    loaded = {Path(d.source).name for d in documents}
    # Files the loader skipped (empty, too large, binary, duplicate id): remembered by their bytes' hash, so
    # the next start does not rebuild for them again until they change.
    ignored = {p.name: _file_sha(p) for p in candidate_files(settings.documents_dir) if p.name not in loaded}
    build_store(documents, embedder, settings, progress=progress, ignored=ignored, deadline=deadline, upgrade=upgrade)
    return load_store(settings, expected_embedder=embedder.info), warnings


def _file_sha(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def _documents_changed(documents_dir: Path, index: Store) -> bool:
    """Cheap staleness check: the files the loader would try differ from those indexed (text and sidecar hash)
    or from those it skipped last time (bytes hash)."""
    if not documents_dir.is_dir():
        return False
    indexed = {Path(d.source).name: (d.sha256, d.sidecar_sha256) for d in index.catalog.values()}
    ignored = index.manifest.get("ignored") or {}
    files = candidate_files(documents_dir)
    if {p.name for p in files} != set(indexed) | set(ignored):
        return True
    for path in files:
        if path.name in ignored:
            if _file_sha(path) != ignored[path.name]:
                return True
            continue
        try:
            text_sha = content_sha256(path)
        except DocumentLoadError:
            return True
        if (text_sha, sidecar_sha256(path)) != indexed[path.name]:
            return True
    return False
