"""The Milvus collections of one policy-rag index: their schemas, and row reads and writes by key.

An index is a set of collections named after the index folder (`policy_rag_<name>`, the prefix P):

    P_meta            the manifest, one row: format, embedder, counts, BM25 statistics, current generation
    P_g<n>_documents  the catalog: one row per document (metadata, no text) with place/level/... scalars
    P_g<n>_chunks     chunks: text, section, offsets, filter scalars, dense vector, BM25 sparse vector, and
                      the numbers of the chunk's clauses (first, count)
    P_g<n>_clauses    clauses (the quoted units) with their dense vectors, read by id (chunking.make_clause_id)
    P_g<n>_terms      the BM25 vocabulary: token -> sparse dimension and document frequency
    P_g<n>_texts      each document's stored text, the tokenizer's user dictionary, the term bridge and each
                      document's term counts, as text split into parts (a VARCHAR holds 65,535 bytes)

A full rebuild fills generation n+1 next to n, then switches the one manifest row to it, so readers see the
old or the new index, never half of one. Milvus requires a vector field in every collection: the catalog,
terms, texts and meta collections carry a 2-d placeholder. Every collection is Strong-consistency, so a
search sees the rows written before it on a cluster as on Milvus Lite.
"""

from __future__ import annotations

import json
import re
from typing import Iterable, Iterator

from ..chunking import make_clause_id
from ..errors import IndexWriteError

__all__ = ["MilvusIndex", "quote_list", "clause_ids_of", "CLAUSE_SPAN_FIELDS", "MAX_TOPK", "PLACEHOLDER",
           "filter_values"]

MAX_VARCHAR_BYTES = 65_535
PART_BYTES = 60_000  # a text blob is stored in parts of at most this many UTF-8 bytes
MAX_TOPK = 16_384  # Milvus's largest search limit and query window
BATCH_ROWS = 500  # rows per insert/upsert request (a gRPC message stays far below its 64 MB limit)
PLACEHOLDER = [1.0, 0.0]  # the vector of collections that hold no vectors of their own
# place/level/province/city/kind: short names; ids and paths may be long.
SHORT, LONG = 256, 4096


CLAUSE_SPAN_FIELDS = ["chunk_id", "clause_first", "clause_count"]  # what clause_ids_of reads from a chunk row


def clause_ids_of(chunk_row: dict) -> list[str]:
    """The ids of a chunk row's clauses: the row records where they are numbered in the document."""
    first = int(chunk_row["clause_first"])
    return [make_clause_id(chunk_row["chunk_id"], n) for n in range(first, first + int(chunk_row["clause_count"]))]


def quote_list(values: Iterable[str]) -> str:
    """A Milvus filter list literal: ["a", "b\\"c"] (JSON string escapes are Milvus's too)."""
    return "[" + ", ".join(json.dumps(str(v), ensure_ascii=False) for v in values) + "]"


class MilvusIndex:
    """The collections of one index generation on one client, and the row-level reads and writes on them."""

    KINDS = ("documents", "chunks", "clauses", "terms", "texts")

    def __init__(self, client, prefix: str, generation: int):
        self.client = client
        self.prefix = prefix
        self.generation = generation
        self.meta = f"{prefix}_meta"
        self.names = {kind: f"{prefix}_g{generation}_{kind}" for kind in self.KINDS}

    # ------------------------------------------------------------ the manifest row

    @staticmethod
    def read_manifest(client, prefix: str) -> dict | None:
        meta = f"{prefix}_meta"
        if not client.has_collection(meta):
            return None
        client.load_collection(meta)
        rows = client.query(meta, ids=["manifest"], output_fields=["data"])
        return json.loads(rows[0]["data"]) if rows else None

    def write_manifest(self, manifest: dict) -> None:
        """One row: replacing it is atomic, which is what switches readers to a new generation."""
        data = json.dumps(manifest, ensure_ascii=False)
        if len(data.encode("utf-8")) > MAX_VARCHAR_BYTES:
            raise IndexWriteError(f"the Milvus index manifest outgrew one row ({len(data)} characters)")
        if not self.client.has_collection(self.meta):
            from pymilvus import DataType

            schema = self.client.create_schema(auto_id=False)
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=SHORT)
            schema.add_field("data", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
            schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER))
            self._create(self.meta, schema, [("placeholder", "FLAT", "IP", {})])
        self.client.upsert(self.meta, [{"key": "manifest", "data": data, "placeholder": PLACEHOLDER}])

    # ------------------------------------------------------------ schemas

    def create(self, dimension: int, lexical: str, dense_index: dict) -> None:
        """Create this generation's collections (dropping leftovers of an interrupted build of it)."""
        from pymilvus import DataType, Function, FunctionType

        self.drop()
        c = self.client
        s = c.create_schema(auto_id=False)
        s.add_field("doc_id", DataType.VARCHAR, is_primary=True, max_length=LONG)
        s.add_field("seq", DataType.INT64)
        s.add_field("record", DataType.JSON)
        _add_filter_fields(s, DataType)
        s.add_field("placeholder", DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER))
        self._create(self.names["documents"], s, [("placeholder", "FLAT", "IP", {})])

        s = c.create_schema(auto_id=False)
        s.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=LONG)
        s.add_field("doc_id", DataType.VARCHAR, max_length=LONG)
        s.add_field("seq", DataType.INT64)
        s.add_field("section", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
        s.add_field("start", DataType.INT64)
        s.add_field("end", DataType.INT64)
        s.add_field("header_chars", DataType.INT64)  # text = indexed_text[header_chars + 1:]
        s.add_field("n_tokens", DataType.INT64)  # BM25's document length
        s.add_field("bm25_norm", DataType.DOUBLE)  # the length normalisation of the row's tf-parts (sparse_bm25.py)
        # The chunk's clauses are the document's clauses clause_first .. clause_first + clause_count - 1
        # (chunking.make_clause_id): they are read by primary key, which Milvus Lite answers in milliseconds
        # where a filter on chunk_id scans every clause row (~0.2 s at 75k clauses, ~2 s at 750k).
        s.add_field("clause_first", DataType.INT64)
        s.add_field("clause_count", DataType.INT64)
        jieba = {"enable_analyzer": True, "analyzer_params": {"tokenizer": "jieba"}} if lexical == "milvus-bm25" else {}
        s.add_field("indexed_text", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES, **jieba)
        s.add_field("embed_sha", DataType.VARCHAR, max_length=64)
        _add_filter_fields(s, DataType)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        s.add_field("lexical", DataType.SPARSE_FLOAT_VECTOR)
        if lexical == "milvus-bm25":
            # Milvus's own BM25: the server tokenises indexed_text with jieba and keeps the corpus statistics.
            s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["indexed_text"],
                                    output_field_names=["lexical"]))
            sparse = ("lexical", "SPARSE_INVERTED_INDEX", "BM25", {"bm25_k1": 1.5, "bm25_b": 0.75})
        else:
            sparse = ("lexical", "SPARSE_INVERTED_INDEX", "IP", {})
        self._create(self.names["chunks"], s, [("vector", dense_index["type"], "IP", dense_index["params"]), sparse],
                     scalar=("doc_id",))

        s = c.create_schema(auto_id=False)
        s.add_field("clause_id", DataType.VARCHAR, is_primary=True, max_length=LONG)
        s.add_field("chunk_id", DataType.VARCHAR, max_length=LONG)
        s.add_field("doc_id", DataType.VARCHAR, max_length=LONG)
        s.add_field("seq", DataType.INT64)
        for name in ("start", "end", "sentence_start", "sentence_end"):
            s.add_field(name, DataType.INT64)
        s.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
        s.add_field("embed_sha", DataType.VARCHAR, max_length=64)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        # Clause vectors are only read by id, never searched: an exact (FLAT) index costs nothing to build,
        # where HNSW over ~8 clauses a chunk took most of a 100k-chunk build and its memory.
        self._create(self.names["clauses"], s, [("vector", "FLAT", "IP", {})], scalar=("doc_id",))

        s = c.create_schema(auto_id=False)
        s.add_field("token", DataType.VARCHAR, is_primary=True, max_length=LONG)
        s.add_field("tid", DataType.INT64)
        s.add_field("df", DataType.INT64)
        s.add_field("placeholder", DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER))
        self._create(self.names["terms"], s, [("placeholder", "FLAT", "IP", {})])

        s = c.create_schema(auto_id=False)
        s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=LONG)
        s.add_field("name", DataType.VARCHAR, max_length=LONG)
        s.add_field("part", DataType.INT64)
        s.add_field("data", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
        s.add_field("placeholder", DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER))
        self._create(self.names["texts"], s, [("placeholder", "FLAT", "IP", {})], scalar=("name",))

    def _create(self, name: str, schema, vectors, scalar: tuple[str, ...] = ()) -> None:
        params = self.client.prepare_index_params()
        for field, index_type, metric, extra in vectors:
            params.add_index(field_name=field, index_type=index_type, metric_type=metric, params=extra)
        for field in scalar:  # filters on these run per question: an inverted index keeps them cheap on a cluster
            params.add_index(field_name=field, index_type="INVERTED")
        self.client.create_collection(name, schema=schema, consistency_level="Strong")
        # sync=False: an empty collection's indexes are ready at once, and waiting on them polls every 0.5 s
        # (through an RPC Milvus Lite does not implement).
        self.client.create_index(name, params, sync=False)
        self.client.load_collection(name)

    def reindex_vector(self, kind: str, spec: dict) -> None:
        """Replace the dense index of `kind` (FLAT -> HNSW when a collection outgrows exact search)."""
        name = self.names[kind]
        self.client.release_collection(name)
        self.client.drop_index(name, "vector")
        params = self.client.prepare_index_params()
        params.add_index(field_name="vector", index_type=spec["type"], metric_type="IP", params=spec["params"])
        self.client.create_index(name, params, sync=False)
        self.client.load_collection(name)

    @staticmethod
    def generations(client, prefix: str) -> list[int]:
        """The generations that have collections under `prefix`."""
        pattern = re.compile(re.escape(prefix) + r"_g(\d+)_[a-z]+$")
        return sorted({int(m.group(1)) for name in client.list_collections() if (m := pattern.match(name))})

    def exists(self) -> bool:
        return all(self.client.has_collection(n) for n in self.names.values())

    def load(self) -> None:
        for name in self.names.values():
            self.client.load_collection(name)

    def drop(self) -> None:
        for name in self.names.values():
            if self.client.has_collection(name):
                self.client.drop_collection(name)

    # ------------------------------------------------------------ rows

    def insert(self, kind: str, rows: list[dict]) -> None:
        for i in range(0, len(rows), BATCH_ROWS):
            self.client.insert(self.names[kind], rows[i:i + BATCH_ROWS])

    def upsert(self, kind: str, rows: list[dict]) -> None:
        for i in range(0, len(rows), BATCH_ROWS):
            self.client.upsert(self.names[kind], rows[i:i + BATCH_ROWS])

    def delete_where(self, kind: str, expr: str) -> None:
        self.client.delete(self.names[kind], filter=expr)

    def delete_ids(self, kind: str, ids: list[str]) -> None:
        """Rows by primary key (ids without a row are no error)."""
        for i in range(0, len(ids), MAX_TOPK):
            self.client.delete(self.names[kind], ids=ids[i:i + MAX_TOPK])

    def get(self, kind: str, ids: list[str], fields: list[str]) -> list[dict]:
        """Rows by primary key (any order), in requests of at most MAX_TOPK ids."""
        out: list[dict] = []
        for i in range(0, len(ids), MAX_TOPK):
            out.extend(self.client.query(self.names[kind], ids=ids[i:i + MAX_TOPK], output_fields=fields))
        return out

    def where(self, kind: str, expr: str, fields: list[str], *, limit: int = MAX_TOPK) -> list[dict]:
        """Rows matching `expr`; `limit` must bound the matches (a Milvus query window is at most 16,384)."""
        return self.client.query(self.names[kind], filter=expr, output_fields=fields, limit=min(limit, MAX_TOPK))

    def in_seq_windows(self, kind: str, end: int, fields: list[str], expr: str = "",
                       window: int = MAX_TOPK) -> Iterator[dict]:
        """Every row with 0 <= seq < end, read in seq windows (no query window or iterator needed)."""
        for lo in range(0, end, window):
            rng = f"seq >= {lo} and seq < {lo + window}"
            yield from self.client.query(self.names[kind], filter=f"{rng} and ({expr})" if expr else rng,
                                         output_fields=fields, limit=window)

    def search(self, kind: str, data, field: str, limit: int, expr: str, fields: list[str],
               params: dict | None = None) -> list[dict]:
        hits = self.client.search(self.names[kind], data=[data], anns_field=field, limit=min(limit, MAX_TOPK),
                                  filter=expr, output_fields=fields, search_params=params or {})
        return list(hits[0]) if hits else []

    # ------------------------------------------------------------ text blobs

    def write_text(self, name: str, value: str) -> None:
        parts = _split_utf8(value, PART_BYTES)
        self.upsert("texts", [{"key": _part_key(name, i), "name": name, "part": i, "data": p,
                               "placeholder": PLACEHOLDER} for i, p in enumerate(parts)])
        self.delete_where("texts", f"name == {json.dumps(name, ensure_ascii=False)} and part >= {len(parts)}")

    def write_texts(self, items: dict[str, str]) -> None:
        """Several new blobs at once (upserted: what an interrupted write left under these names is replaced)."""
        rows = []
        for name, value in items.items():
            rows.extend({"key": _part_key(name, i), "name": name, "part": i, "data": p, "placeholder": PLACEHOLDER}
                        for i, p in enumerate(_split_utf8(value, PART_BYTES)))
        self.upsert("texts", rows)

    def read_text(self, name: str) -> str | None:
        # Parts by key, in growing windows (most texts are one or two parts): a filter on name would scan
        # every row of the collection on Milvus Lite.
        rows: list[dict] = []
        start, width = 0, 8
        while True:
            got = self.get("texts", [_part_key(name, i) for i in range(start, start + width)], ["part", "data"])
            rows.extend(got)
            if len(got) < width:
                break
            start, width = start + width, width * 8
        if not rows:
            return None
        rows.sort(key=lambda r: r["part"])
        if [r["part"] for r in rows] != list(range(len(rows))):
            raise ValueError(f"text {name!r} has missing parts")
        return "".join(r["data"] for r in rows)

    def delete_texts(self, names: Iterable[str]) -> None:
        names = list(names)
        if names:
            self.delete_where("texts", f"name in {quote_list(names)}")


def _part_key(name: str, part: int) -> str:
    return f"{name}/{part:06d}"


def _add_filter_fields(schema, DataType) -> None:
    """The document scalars a cluster can filter chunks on server-side (place == "绍兴市" and year == 2025)."""
    for name in ("place", "level", "province", "city", "kind"):
        schema.add_field(name, DataType.VARCHAR, max_length=SHORT)
    schema.add_field("year", DataType.INT64)  # 0 when unknown
    schema.add_field("years", DataType.ARRAY, element_type=DataType.INT64, max_capacity=256)


def filter_values(metadata) -> dict:
    """The filter scalars of a document's metadata ("" / 0 for unknown: no nullable fields needed)."""
    def short(value) -> str:
        value = value or ""
        return value if len(value.encode("utf-8")) <= SHORT else ""

    return {"place": short(metadata.place), "level": short(metadata.level), "province": short(metadata.province),
            "city": short(metadata.city), "kind": short(metadata.kind), "year": int(metadata.year or 0),
            "years": [int(y) for y in metadata.years][:256]}


def _split_utf8(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` UTF-8 bytes, cut between characters ([""] for an empty text)."""
    data = text.encode("utf-8")
    parts, start = [], 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never inside a character
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return parts or [""]
