"""How latency grows between two index sizes, measured side by side in one process.

`benchmarks/scale.py` measures one size per run. On a shared machine whose speed drifts, two runs minutes apart
do not compare: here the same 10k-chunk index's filtered retrieval p50 was 1.03 ms in one run and 2.04 ms in
another half an hour later. This script opens two indexes kept by scale.py (--keep) in one process and
alternates, question i on the small index and then question i on the large one, so both sides see the same
machine. Each question is timed once, as in scale.py (its words new to the snapshot's caches), over --rounds
rounds of fresh questions; each round is one pair of p50s, and their ratio is the growth.

    python benchmarks/scale.py --chunks 10000 --work /data/scale-10k --keep --out /tmp/s10k.json
    python benchmarks/scale.py --chunks 1000000 --work /data/scale-1m --keep --out /tmp/s1m.json
    python benchmarks/scale_growth.py --small /data/scale-10k --large /data/scale-1m \\
        --out benchmarks/results/growth-local-1000000.json

Timed per question, as scale.py times them: "retrieve" (rag.retrieval.retrieve over the plans of the question's
place, as the Assistant filters it), "retrieve_all" (the same search with no filter) and "ask" (Assistant.ask,
the full answer with the query embedding). The goal it checks (issue #10): growth from N small to N large no
faster than log N, i.e. a ratio at most log(N large) / log(N small) (1.5 from 10k to 1M).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

MEASURES = ("retrieve", "retrieve_all", "ask")


def _open(work: Path, embedder):
    from rag.assistant import Assistant
    from rag.settings import Settings
    from rag.stores.local import load_index
    from scale_corpus import INFO

    index_dir = work / "index"
    store = load_index(index_dir, expected_embedder=INFO)
    return Assistant(Settings(index_dir=index_dir, documents_dir=work / "documents"), embedder, store)


def _round(sides: list, embedder, n: int, seed: int) -> dict[str, list[list[float]]]:
    """One round: n fresh questions per side, each measure timed once per question, the sides alternating."""
    from rag.retrieval import retrieve
    from scale import _retrieval_inputs
    from scale_corpus import questions_for

    plans = []
    for assistant in sides:
        questions = questions_for(assistant.index.catalog, n, seed=seed)
        inputs = [(q, _retrieval_inputs(assistant, q)) for q in questions]
        inputs = [(q, got, embedder.embed_queries([q])[0]) for q, got in inputs if got is not None]
        plans.append(inputs)
    times = {m: [[] for _ in sides] for m in MEASURES}
    settings = sides[0].settings
    calls = {
        "retrieve": lambda a, q, got, v: retrieve(a.index, got[0], v, k=settings.k, fetch_k=settings.fetch_k,
                                                  allowed=got[1]),
        "retrieve_all": lambda a, q, got, v: retrieve(a.index, got[0], v, k=settings.k, fetch_k=settings.fetch_k),
        "ask": lambda a, q, got, v: a.ask(q),
    }
    for measure in MEASURES:
        for i in range(min(map(len, plans))):
            for side, assistant in enumerate(sides):
                q, got, vector = plans[side][i]
                t0 = time.perf_counter()
                calls[measure](assistant, q, got, vector)
                times[measure][side].append((time.perf_counter() - t0) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=Path, required=True, help="work folder of the smaller index (scale.py --keep)")
    parser.add_argument("--large", type=Path, required=True, help="work folder of the larger index")
    parser.add_argument("--questions", type=int, default=100, help="questions per round and side (default 100)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of fresh questions (default 3)")
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here (else print them)")
    args = parser.parse_args(argv)

    from rag.encoders import load_encoder
    from scale import _code_version, emit, percentile
    from scale_corpus import INFO, questions_for

    embedder = load_encoder(INFO.name)  # real query vectors, as scale.py's default
    sides = [_open(args.small, embedder), _open(args.large, embedder)]
    for assistant in sides:  # the first answers load jieba's tagger tables, pinyin, ...
        for q in questions_for(assistant.index.catalog, 6, seed=args.seed - 1):
            assistant.ask(q)
    load_before = os.getloadavg()
    rounds = []
    for r in range(args.rounds):
        times = _round(sides, embedder, args.questions, args.seed + r)
        row = {}
        for measure, (small, large) in times.items():
            a, b = percentile(small, 0.5), percentile(large, 0.5)
            row[measure] = {"small_p50_ms": round(a, 2), "large_p50_ms": round(b, 2), "ratio": round(b / a, 2),
                            "small_p95_ms": round(percentile(small, 0.95), 2),
                            "large_p95_ms": round(percentile(large, 0.95), 2), "questions": len(small)}
        rounds.append(row)
        print(f"round {r + 1}: " + "; ".join(f"{m} {v['small_p50_ms']} -> {v['large_p50_ms']} ms (x{v['ratio']})"
                                             for m, v in row.items()), file=sys.stderr, flush=True)
    n_small, n_large = (a.index.chunk_count() for a in sides)
    bound = math.log(n_large) / math.log(n_small)
    out = {
        "small_chunks": n_small, "large_chunks": n_large, "log_bound": round(bound, 2),
        "median_ratio": {m: round(statistics.median(r[m]["ratio"] for r in rounds), 2) for m in MEASURES},
        "within_log_bound": {m: statistics.median(r[m]["ratio"] for r in rounds) <= bound for m in MEASURES},
        "rounds": rounds, "query_vectors": "e5 (real, local model)",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": [round(x, 2) for x in load_before + os.getloadavg()],
        "date": time.strftime("%Y-%m-%d %H:%M"), "code": _code_version(),
    }
    emit(out, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
