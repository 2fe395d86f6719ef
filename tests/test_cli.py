"""The `rag` console script, run as a user would (subprocesses, real index)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

RAG = [sys.executable, "-m", "rag.cli"]


def run(args, built, stdin=None):
    env = {**os.environ, "POLICY_RAG_INDEX_DIR": str(built.index_dir),
           "POLICY_RAG_DOCUMENTS_DIR": str(built.documents_dir)}
    return subprocess.run(RAG + args, input=stdin, capture_output=True, text=True, env=env, timeout=300)


def test_help_explains_subcommands(built):
    out = run(["--help"], built).stdout
    for word in ("index", "ask", "eval", "ui", "documents", "POLICY_RAG_"):
        assert word in out
    assert "--jsonl" in run(["ask", "--help"], built).stdout


def test_ask_json(built):
    p = run(["ask", "绍兴2025年技术交易额目标是多少?", "--json"], built)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert "450亿元" in d["answer"] and d["citations"][0]["source"].endswith("shaoxing_2025_st_innovation_work_points.txt")


def test_bad_questions_exit_nonzero_with_one_line(built):
    for q in ["", "问" * 2000]:
        p = run(["ask", q], built)
        assert p.returncode == 2
        assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
        assert p.stderr.startswith("error:")


def test_jsonl_in_order_in_one_process(built):
    lines = [{"question": "鹰潭2025年技术合同成交额目标?"}, {"question": "杭州2025年技术交易额目标?"},
             {"question": "What is Shaoxing's 2025 technology transaction target?"}]
    p = run(["ask", "--jsonl", "-"], built, stdin="\n".join(json.dumps(x, ensure_ascii=False) for x in lines))
    assert p.returncode == 0, p.stderr
    out = [json.loads(line) for line in p.stdout.splitlines()]
    assert [o["question"] for o in out] == [x["question"] for x in lines]
    assert "92亿元" in out[0]["answer"] and out[1]["refused"] and "450亿元" in out[2]["answer"]


def test_jsonl_bad_line_is_reported_and_others_answered(built):
    p = run(["ask", "--jsonl", "-"], built, stdin='not json\n{"question": "鹰潭2025年技术合同成交额目标?"}\n')
    assert p.returncode == 1
    out = [json.loads(line) for line in p.stdout.splitlines()]
    assert "error" in out[0] and "92亿元" in out[1]["answer"]


def test_jsonl_batch_survives_every_kind_of_bad_line(built):
    """Wrong types, a non-object, an invalid UTF-8 line: each gets its own error row; the batch finishes (#8.5)."""
    good = '{"question": "鹰潭2025年技术合同成交额目标?"}'.encode()
    lines = [b'{"question": "x", "city": 123}', b'{"question": "x", "k": "5"}', b'[1, 2]',
             b'{"question": "\xff\xfe broken"}', "{\"question\": \"😀\"}".encode(), good]
    env = {**os.environ, "POLICY_RAG_INDEX_DIR": str(built.index_dir),
           "POLICY_RAG_DOCUMENTS_DIR": str(built.documents_dir)}
    p = subprocess.run(RAG + ["ask", "--jsonl", "-"], input=b"\n".join(lines) + b"\n", capture_output=True,
                       env=env, timeout=300)
    rows = [json.loads(x) for x in p.stdout.decode().splitlines()]
    assert p.returncode == 1 and "Traceback" not in p.stderr.decode()
    assert len(rows) == len(lines) and all("error" in r for r in rows[:-1])
    assert "92亿元" in rows[-1]["answer"]


def test_corrupt_index_is_one_line_error(workspace):
    segment = json.loads((workspace.index_dir / "manifest.json").read_text(encoding="utf-8"))["segments"][0]["name"]
    (workspace.index_dir / "segments" / segment / "chunk_vectors.npy").write_bytes(b"garbage")
    p = run(["ask", "绍兴2025年技术交易额目标是多少?"], workspace)
    assert p.returncode == 1 and "rebuild" in p.stderr and "Traceback" not in p.stderr


def test_documents_lists_metadata(built):
    p = run(["documents", "--json"], built)
    docs = json.loads(p.stdout)
    assert {d["city"] for d in docs} == {"鹰潭", "赣州", "绍兴", "南昌"}


def test_ui_help_is_passed_through(built):
    p = run(["ui", "--help"], built)
    assert p.returncode == 0 and "--port" in p.stdout and "--auth" in p.stdout


def test_ui_auth_with_an_empty_password_is_one_line(tmp_path):
    """#8: `rag ui --auth alice:` is refused before anything is loaded: one line, exit 2, no traceback."""
    env = {**os.environ, "POLICY_RAG_INDEX_DIR": str(tmp_path / "index"),
           "POLICY_RAG_DOCUMENTS_DIR": str(tmp_path / "no-documents")}
    for value in ("alice:", ":secret"):
        p = subprocess.run(RAG + ["ui", "--auth", value], capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 2 and "Traceback" not in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1 and p.stderr.startswith("error: --auth"), p.stderr
