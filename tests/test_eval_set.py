"""Consistency checks for the fidelity eval set (eval/set.jsonl).

The set is hand-written against the stored documents; these tests guard it
against drift (edited documents, typos in quotes, unsupported answers).
Only stdlib + pytest; no project imports.
"""
import json
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SET_PATH = ROOT / "eval" / "set.jsonl"

LANGS = {"zh", "zh-Hant", "en", "mixed"}
KINDS = {"numeric", "fact", "comparison", "disambiguation", "paraphrase", "unanswerable"}
REQUIRED = {"id": str, "question": str, "lang": str, "kind": str, "answers": list, "gold": list}
OPTIONAL = {"note": str}
# A comparison item may cite a single document only if its note says so explicitly.
COMPARISON_EXCEPTION_MARK = "EXCEPTION: single-document comparison"

MIN_TOTAL = 100
MIN_PER_KIND = 10
MIN_PER_LANG = {"en": 20, "zh-Hant": 5}


def _raw_lines():
    assert SET_PATH.is_file(), f"missing {SET_PATH}"
    lines = SET_PATH.read_text(encoding="utf-8").splitlines()
    return [(n, line) for n, line in enumerate(lines, 1) if line.strip()]


def _items():
    out = []
    for n, line in _raw_lines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:  # reported by test_every_line_parses
            pytest.fail(f"line {n} is not valid JSON: {e}")
    return out


_doc_cache = {}


def _doc(source):
    if source not in _doc_cache:
        _doc_cache[source] = open(ROOT / source, encoding="utf-8").read()
    return _doc_cache[source]


def _fail_if(errors):
    if errors:
        pytest.fail(f"{len(errors)} problem(s):\n" + "\n".join(errors[:50]))


def test_every_line_parses_as_object():
    errors = []
    for n, line in _raw_lines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: invalid JSON ({e})")
            continue
        if not isinstance(obj, dict):
            errors.append(f"line {n}: not a JSON object")
    _fail_if(errors)


def test_fields_and_types():
    errors = []
    for it in _items():
        iid = it.get("id", "<no id>")
        for key, typ in REQUIRED.items():
            if key not in it:
                errors.append(f"{iid}: missing field {key!r}")
            elif not isinstance(it[key], typ):
                errors.append(f"{iid}: field {key!r} should be {typ.__name__}")
        for key in it:
            if key not in REQUIRED and key not in OPTIONAL:
                errors.append(f"{iid}: unknown field {key!r}")
        if "note" in it and not isinstance(it["note"], str):
            errors.append(f"{iid}: note should be str")
        if isinstance(it.get("id"), str) and not it["id"].strip():
            errors.append("empty id")
        if isinstance(it.get("question"), str) and not it["question"].strip():
            errors.append(f"{iid}: empty question")
        if it.get("lang") not in LANGS:
            errors.append(f"{iid}: lang {it.get('lang')!r} not in {sorted(LANGS)}")
        if it.get("kind") not in KINDS:
            errors.append(f"{iid}: kind {it.get('kind')!r} not in {sorted(KINDS)}")
        for group in it.get("answers", []) if isinstance(it.get("answers"), list) else []:
            if not isinstance(group, list) or not group:
                errors.append(f"{iid}: answer group {group!r} must be a non-empty list")
            elif not all(isinstance(f, str) and f.strip() for f in group):
                errors.append(f"{iid}: answer group {group!r} must hold non-empty strings")
        for g in it.get("gold", []) if isinstance(it.get("gold"), list) else []:
            if not isinstance(g, dict) or set(g) != {"source", "quote"}:
                errors.append(f"{iid}: gold entry {g!r} must be {{source, quote}}")
            elif not (isinstance(g["source"], str) and isinstance(g["quote"], str) and g["quote"].strip()):
                errors.append(f"{iid}: gold entry {g!r} needs string source and non-empty quote")
    _fail_if(errors)


def test_ids_unique():
    counts = Counter(it.get("id") for it in _items())
    dups = sorted(str(i) for i, c in counts.items() if c > 1)
    assert not dups, f"duplicate ids: {dups}"


def test_gold_sources_exist_and_quotes_are_verbatim():
    errors = []
    for it in _items():
        for g in it.get("gold", []):
            src = g.get("source", "")
            path = (ROOT / src).resolve()
            if not src.startswith("documents/") or not path.is_file():
                errors.append(f"{it['id']}: gold source {src!r} is not a file under documents/")
                continue
            if g.get("quote", "") not in _doc(src):
                errors.append(f"{it['id']}: quote not verbatim in {src}: {g.get('quote')!r}")
    _fail_if(errors)


def test_every_answer_group_is_supported_by_a_gold_quote():
    errors = []
    for it in _items():
        quotes = [g.get("quote", "") for g in it.get("gold", [])]
        for group in it.get("answers", []):
            if not any(form in q for form in group for q in quotes):
                errors.append(f"{it['id']}: no form of answer group {group!r} occurs in its gold quotes")
    _fail_if(errors)


def test_unanswerable_items_are_empty_and_answerable_items_are_not():
    errors = []
    for it in _items():
        if it.get("kind") == "unanswerable":
            if it.get("answers") or it.get("gold"):
                errors.append(f"{it['id']}: unanswerable item must have empty answers and gold")
        else:
            if not it.get("answers"):
                errors.append(f"{it['id']}: answerable item has no answers")
            if not it.get("gold"):
                errors.append(f"{it['id']}: answerable item has no gold")
    _fail_if(errors)


def test_comparison_items_cite_at_least_two_documents():
    errors = []
    for it in _items():
        if it.get("kind") != "comparison":
            continue
        sources = {g.get("source") for g in it.get("gold", [])}
        if len(sources) < 2 and COMPARISON_EXCEPTION_MARK not in it.get("note", ""):
            errors.append(f"{it['id']}: comparison cites {len(sources)} document(s)")
        if len(it.get("answers", [])) < 2:
            errors.append(f"{it['id']}: comparison needs one answer group per side")
    _fail_if(errors)


def test_minimum_counts():
    items = _items()
    kinds = Counter(it.get("kind") for it in items)
    langs = Counter(it.get("lang") for it in items)
    problems = []
    if len(items) < MIN_TOTAL:
        problems.append(f"only {len(items)} items (< {MIN_TOTAL})")
    for k in sorted(KINDS):
        if kinds[k] < MIN_PER_KIND:
            problems.append(f"kind {k}: {kinds[k]} (< {MIN_PER_KIND})")
    for lang, need in MIN_PER_LANG.items():
        if langs[lang] < need:
            problems.append(f"lang {lang}: {langs[lang]} (< {need})")
    assert not problems, "; ".join(problems)


def test_every_document_is_covered():
    docs = [
        "documents/yingtan_2025_st_work_opinions.txt",
        "documents/ganzhou_2025_st_work_points.txt",
        "documents/ganzhou_14th_fyp_st_plan_implementation.txt",
        "documents/shaoxing_2025_st_innovation_work_points.txt",
        "documents/nanchang_2015_st_work_points.txt",
    ]
    cited = Counter(g.get("source") for it in _items() for g in it.get("gold", []))
    thin = [d for d in docs if cited[d] < 10]
    assert not thin, f"documents cited by fewer than 10 gold quotes: {thin}"
