"""Speed and memory of policy-rag on this corpus (a script, not a test: nothing here asserts timings).

    python benchmarks/bench.py [--questions N] [--json OUT]

Measures, on the default embedder:
  - full index build (fresh directory, every text embedded) and a no-change rebuild (all vectors reused)
  - cold CLI: wall time of `rag ask "…"` in a new process, index already built (median of 3)
  - warm per-question latency over the eval set's questions in one process (p50 / p95 / max)
  - peak resident memory of this process (build + questions) and of one cold CLI process
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rag import Assistant, Settings  # noqa: E402
from rag.documents import load_documents  # noqa: E402
from rag.embeddings import load_embedder  # noqa: E402
from rag.store import build_index  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=0, help="number of eval questions to time (0 = all)")
    parser.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    results: dict[str, object] = {"machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, "
                                             f"Python {platform.python_version()}"}
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "default"
        settings = Settings.load(index_dir=index_dir)
        documents, _ = load_documents(settings.documents_dir, root=REPO)
        embedder = load_embedder()

        t = time.perf_counter()
        stats = build_index(documents, embedder, index_dir, progress=False)
        results["build_full_s"] = round(time.perf_counter() - t, 2)
        results["index"] = {k: stats[k] for k in ("documents", "chunks", "clauses")}
        t = time.perf_counter()
        build_index(documents, embedder, index_dir, progress=False)
        results["build_unchanged_s"] = round(time.perf_counter() - t, 2)

        cold = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "rag.cli", "ask", "绍兴2025年技术交易额目标是多少?",
                            "--index-dir", str(index_dir)], check=True, capture_output=True)
            cold.append(time.perf_counter() - t)
        results["cold_cli_s"] = round(statistics.median(cold), 2)
        results["cold_cli_peak_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)

        assistant = Assistant.from_settings(settings)
        items = [json.loads(x) for x in (REPO / "eval" / "set.jsonl").read_text(encoding="utf-8").splitlines() if x]
        questions = [i["question"] for i in items][: args.questions or None]
        assistant.ask(questions[0])  # first call warms caches (jieba's place-name tagger, etc.)
        latencies = []
        for q in questions:
            t = time.perf_counter()
            assistant.ask(q)
            latencies.append((time.perf_counter() - t) * 1000)
        results["warm_questions"] = len(latencies)
        results["warm_p50_ms"] = round(percentile(latencies, 0.5), 1)
        results["warm_p95_ms"] = round(percentile(latencies, 0.95), 1)
        results["warm_max_ms"] = round(max(latencies), 1)
        results["process_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    width = max(len(k) for k in results)
    for k, v in results.items():
        print(f"{k:<{width}}  {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
