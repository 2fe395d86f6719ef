"""benchmarks/scale.py end to end at a tiny size: a real build, a fresh process measuring, the JSON it writes.

No timing is asserted (timings are measured by the benchmark, not tested); the figures must be there, be
positive, and the synthetic corpus must be what the benchmark says it is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"chunks", "build_s", "disk_mb", "rss_mb", "load_s", "retrieve_p50_ms", "retrieve_p95_ms", "ask_p50_ms",
        "ask_p95_ms", "add_document_s", "remove_document_s", "backend"}


def test_scale_benchmark_writes_its_figures(tmp_path):
    out = tmp_path / "scale.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--chunks", "300", "--questions",
                           "8", "--query-vectors", "synthetic", "--work", str(tmp_path / "work"), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert KEYS <= set(figures)
    assert figures["backend"] == "local"
    for key in KEYS - {"backend"}:
        assert isinstance(figures[key], (int, float)) and figures[key] > 0, (key, figures[key])
    assert 300 <= figures["chunks"] < 600 and figures["clauses"] > figures["chunks"]
    assert figures["questions_retrieved"] == 8  # every question names a place that has a plan
    assert figures["added_chunks"] >= 50
    assert "synthetic" in figures["vectors"] and figures["query_vectors"] == "synthetic"
    assert not (tmp_path / "work").exists()  # the index is deleted unless --keep


def test_synthetic_plans_read_as_plans_of_their_place():
    """The metadata the benchmark sets is what the loader reads from the plan's text."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scale_corpus import make_documents, questions_for

    from rag.chunking import chunk_document
    from rag.metadata import extract_metadata
    from rag.places import gazetteer

    docs = make_documents(400, seed=3)
    assert 400 <= sum(len(chunk_document(d)[0]) for d in docs) < 700
    for doc in docs:
        m = doc.metadata
        place = gazetteer().get(m.place_code)
        assert place.name == m.place and m.place in m.title
        assert m.place in doc.text and "\x01" not in doc.text and "\x02" not in doc.text
        read = extract_metadata(doc.text, doc.spans, doc.doc_id)  # the loader's reading of the text
        for field in ("title", "place", "level", "city", "province", "year", "years", "period", "kind", "issuer",
                      "issue_date"):
            assert getattr(read, field) == getattr(m, field), (field, getattr(read, field), getattr(m, field))
    catalog = {d.doc_id: type("Record", (), {"metadata": d.metadata})() for d in docs}
    questions = questions_for(catalog, 10)
    assert len(questions) == 10
    assert all(any(d.metadata.place in q or (d.metadata.city or "#") in q for d in docs) for q in questions)


def test_scale_growth_compares_two_kept_indexes_side_by_side(tmp_path):
    for n in (300, 600):
        proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--chunks", str(n), "--questions",
                               "4", "--query-vectors", "synthetic", "--work", str(tmp_path / f"w{n}"), "--keep"],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "growth.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scale_growth.py"), "--small", str(tmp_path / "w300"),
                           "--large", str(tmp_path / "w600"), "--questions", "6", "--rounds", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["small_chunks"] < figures["large_chunks"] and len(figures["rounds"]) == 2
    assert set(figures["median_ratio"]) == {"retrieve", "retrieve_all", "ask"}
    for row in figures["rounds"]:
        for measure in row.values():
            assert measure["questions"] >= 4 and measure["small_p50_ms"] > 0 and measure["large_p50_ms"] > 0
            assert abs(measure["ratio"] - measure["large_p50_ms"] / measure["small_p50_ms"]) < 0.02 * measure["ratio"] + 0.01
