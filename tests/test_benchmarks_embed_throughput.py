"""benchmarks/embed_throughput.py end to end on a few texts: a real model, the JSON it writes.

No timing is asserted (measured by the benchmark, not tested); the figures must be there and positive, and the
sample must be the build's texts in their share of chunks and clauses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_embed_throughput_benchmark_writes_its_figures(tmp_path):
    out = tmp_path / "embed.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "embed_throughput.py"), "--texts", "20",
                           "--batch-sizes", "4", "8", "--order", "given", "length", "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["texts"]["all"] == 20 and 0 < report["texts"]["chunks"] < report["texts"]["clauses"]
    assert report["texts"]["chunk_chars_mean"] > report["texts"]["clause_chars_mean"]
    assert [(r["batch_size"], r["order"]) for r in report["results"]] == [(4, "given"), (4, "length"), (8, "given"),
                                                                          (8, "length")]
    assert all(r["texts_per_s"] > 0 and r["workers"] == 1 for r in report["results"])
    assert report["best"]["texts_per_s"] == max(r["texts_per_s"] for r in report["results"])
    help_text = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "embed_throughput.py"), "--help"],
                               capture_output=True, text=True, timeout=60).stdout
    assert "--batch-sizes" in help_text and "--workers" in help_text
