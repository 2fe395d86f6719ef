"""Index backends behind one interface, `Store` (rag/stores/base.py): what retrieval and answering read.

    rag/stores/base.py    the Store protocol, DocumentRecord (a document's catalog entry), DocumentView
    rag/stores/local.py   the local backend: an index folder of FAISS, BM25 arrays, JSONL and numpy files
"""

from __future__ import annotations

from .base import ClauseBlock, DocumentRecord, DocumentView, Store, record_of, text_years

__all__ = ["Store", "DocumentRecord", "DocumentView", "ClauseBlock", "record_of", "text_years"]
