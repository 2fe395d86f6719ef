"""Cold start: `rag ask` and `rag --help` in a fresh process, beside the floor every question pays (a script,
not a test: nothing here asserts timings).

    python benchmarks/cold_start.py [--runs 7] [--json OUT] [--ref COMMIT]

Measured in one run, interleaved round by round, each in a new process (median of --runs):

  baseline   python -c "import numpy, faiss, jieba; jieba.initialize()"   (the libraries a question needs)
  ask        rag ask "绍兴2025年技术交易额目标是多少?"                        (index already built)
  help       rag --help

With --ref COMMIT, the same `rag ask` / `rag --help` of that commit's rag/ (exported with `git archive`, put
first on PYTHONPATH), on copies of the documents and the index, so an older version may rebuild its own.

"Cold" means a new Python process. Disk caches are warm, as for any second command: one unmeasured run of
each command first writes bytecode, jieba's dictionary cache and policy-rag's tag cache, and fills the OS page
cache. The children run without PYTHONDONTWRITEBYTECODE, as an installed package does (it has bytecode).
Issue #9.6 asks for: ask <= 2 x baseline, help <= 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUESTION = "绍兴2025年技术交易额目标是多少?"
RAG = "import sys; from rag.cli import main; sys.exit(main())"  # what the `rag` console script runs
BASELINE = "import numpy, faiss, jieba; jieba.initialize()"


def timed(cmd: list[str], env: dict[str, str], cwd: str) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} … failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def export_ref(commit: str, dest: Path) -> Path:
    """That commit's rag/ package, as files under dest (importable with PYTHONPATH=dest)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit, "rag"],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        try:
            tar.extractall(dest, filter="data")
        except TypeError:  # Python before 3.10.12 / 3.11.4: no filters (our own repository's archive)
            tar.extractall(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="measured runs of each command (median reported)")
    parser.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    parser.add_argument("--ref", metavar="COMMIT", help="also time this commit's rag ask / rag --help")
    parser.add_argument("--documents-dir", default=str(REPO / "documents"))
    parser.add_argument("--index-dir", default=str(REPO / "indexes" / "default"))
    args = parser.parse_args(argv)

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    where = ["--documents-dir", args.documents_dir, "--index-dir", args.index_dir]
    commands = {
        "baseline": [sys.executable, "-c", BASELINE],
        "ask": [sys.executable, "-c", RAG, "ask", QUESTION, *where],
        "help": [sys.executable, "-c", RAG, "--help"],
    }
    envs = {name: env for name in commands}
    # The children run in an empty folder: `python -c` puts the working folder first on sys.path, and in the
    # checkout that would shadow the --ref copy of rag/.
    with tempfile.TemporaryDirectory() as tmp:
        if args.ref:
            ref_code = export_ref(args.ref, Path(tmp) / "code")
            ref_docs, ref_index = Path(tmp) / "documents", Path(tmp) / "indexes" / "default"
            shutil.copytree(args.documents_dir, ref_docs)
            shutil.copytree(args.index_dir, ref_index)
            ref_env = {**env, "PYTHONPATH": str(ref_code)}
            commands[f"ask@{args.ref}"] = [sys.executable, "-c", RAG, "ask", QUESTION, "--documents-dir",
                                           str(ref_docs), "--index-dir", str(ref_index)]
            commands[f"help@{args.ref}"] = [sys.executable, "-c", RAG, "--help"]
            envs.update({f"ask@{args.ref}": ref_env, f"help@{args.ref}": ref_env})

        load_before = os.getloadavg()
        for name, cmd in commands.items():  # warm-up: bytecode, caches, an index the ref may rebuild
            timed(cmd, envs[name], tmp)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                times[name].append(timed(cmd, envs[name], tmp))
        load_after = os.getloadavg()

    median = {name: round(statistics.median(v), 3) for name, v in times.items()}
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                   f"load average {load_before[0]:.1f} -> {load_after[0]:.1f}",
        "runs": args.runs,
        "median_s": median,
        "all_s": {name: [round(x, 3) for x in v] for name, v in times.items()},
        "ask_over_baseline": round(median["ask"] / median["baseline"], 2),
        "targets": {"ask <= 2 x baseline": median["ask"] <= 2 * median["baseline"], "help <= 0.3 s": median["help"] <= 0.3},
    }
    if args.ref:
        results["ref"] = args.ref
        results["ref_ask_over_baseline"] = round(median[f"ask@{args.ref}"] / median["baseline"], 2)

    print(f"cold start, median of {args.runs} runs ({results['machine']})")
    print(f"{'command':<24} {'median s':>9}  {'x baseline':>10}   runs")
    for name, values in times.items():
        print(f"{name:<24} {median[name]:>9.3f}  {median[name] / median['baseline']:>10.2f}   "
              + " ".join(f"{x:.2f}" for x in values))
    print(f"targets: ask <= 2 x baseline: {'met' if results['targets']['ask <= 2 x baseline'] else 'NOT met'} "
          f"({results['ask_over_baseline']}x); help <= 0.3 s: "
          f"{'met' if results['targets']['help <= 0.3 s'] else 'NOT met'} ({median['help']} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
