"""Consistency checks for the fidelity eval set (eval/set.jsonl) and the unseen-document slices
(eval/unseen/<split>/set.jsonl).

The sets are hand-written against the stored documents; these tests guard them
against drift (edited documents, typos in quotes, unsupported answers).
Only stdlib + pytest; no project imports.

The slice tests run for every split folder that has a set.jsonl, so they adapt as splits appear. Their
failure messages name items, fields and files but never echo questions, forms or quotes: the heldout
split must not be read by whoever tunes the system, and a failing test should not show it to them.
"""
import json
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SET_PATH = ROOT / "eval" / "set.jsonl"
UNSEEN = ROOT / "eval" / "unseen"
SPLITS = sorted(d.name for d in UNSEEN.iterdir() if (d / "set.jsonl").is_file()) if UNSEEN.is_dir() else []

LANGS = {"zh", "zh-Hant", "en", "mixed"}
KINDS = {"numeric", "fact", "comparison", "disambiguation", "paraphrase", "unanswerable"}
REQUIRED = {"id": str, "question": str, "lang": str, "kind": str, "answers": list, "gold": list}
OPTIONAL = {"note": str}
# A comparison item may cite a single document only if its note says so explicitly.
COMPARISON_EXCEPTION_MARK = "EXCEPTION: single-document comparison"

MIN_TOTAL = 100
MIN_PER_KIND = 10
MIN_PER_LANG = {"en": 20, "zh-Hant": 5}
SPLIT_MIN_TOTAL = 30
SPLIT_MIN_PER_LANG = {"en": 8, "zh-Hant": 2}


def _raw_lines(path=SET_PATH):
    assert path.is_file(), f"missing {path}"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(n, line) for n, line in enumerate(lines, 1) if line.strip()]


def _items(path=SET_PATH):
    out = []
    for n, line in _raw_lines(path):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:  # reported by test_every_line_parses
            pytest.fail(f"{path.name} line {n} is not valid JSON: {e}")
    return out


def _split_set(split):
    return UNSEEN / split / "set.jsonl"


_doc_cache = {}


def _doc(source):
    """The document's stored text: the file itself, or for PDF/DOCX the text the loader extracts (offsets point there)."""
    if source not in _doc_cache:
        if source.lower().endswith((".pdf", ".docx")):
            from rag.documents import load_document

            _doc_cache[source] = load_document(ROOT / source, root=ROOT).text
        else:
            _doc_cache[source] = open(ROOT / source, encoding="utf-8").read()
    return _doc_cache[source]


def _fail_if(errors):
    if errors:
        pytest.fail(f"{len(errors)} problem(s):\n" + "\n".join(errors[:50]))


def _show(value, redact):
    """A value for an error message: repr, or only its position/type where the set must stay unread."""
    return "(redacted)" if redact else repr(value)


# ---------------------------------------------------------------- checks shared by the main set and the slices


def _parse_errors(path):
    errors = []
    for n, line in _raw_lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{path.name} line {n}: invalid JSON ({e.msg} at column {e.colno})")
            continue
        if not isinstance(obj, dict):
            errors.append(f"{path.name} line {n}: not a JSON object")
    return errors


def _field_errors(items, redact=False):
    errors = []
    for it in items:
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
        for j, group in enumerate(it.get("answers", []) if isinstance(it.get("answers"), list) else []):
            if not isinstance(group, list) or not group:
                errors.append(f"{iid}: answer group {j} {_show(group, redact)} must be a non-empty list")
            elif not all(isinstance(f, str) and f.strip() for f in group):
                errors.append(f"{iid}: answer group {j} {_show(group, redact)} must hold non-empty strings")
        for j, g in enumerate(it.get("gold", []) if isinstance(it.get("gold"), list) else []):
            if not isinstance(g, dict) or set(g) != {"source", "quote"}:
                errors.append(f"{iid}: gold entry {j} {_show(g, redact)} must be {{source, quote}}")
            elif not (isinstance(g["source"], str) and isinstance(g["quote"], str) and g["quote"].strip()):
                errors.append(f"{iid}: gold entry {j} {_show(g, redact)} needs string source and non-empty quote")
    return errors


def _quote_errors(items, allowed_dirs, redact=False):
    """Every gold source is a file in one of `allowed_dirs` (repo-relative) and holds its quote verbatim."""
    errors = []
    for it in items:
        for j, g in enumerate(it.get("gold", [])):
            src = g.get("source", "")
            path = (ROOT / src).resolve()
            if not any(src.startswith(d + "/") and "/" not in src[len(d) + 1:] for d in allowed_dirs) \
                    or not path.is_file():
                errors.append(f"{it['id']}: gold source {src!r} is not a file in {' or '.join(allowed_dirs)}")
                continue
            if g.get("quote", "") not in _doc(src):
                errors.append(f"{it['id']}: gold quote {j} {_show(g.get('quote'), redact)} not verbatim in {src}")
    return errors


def _form_errors(items, redact=False):
    errors = []
    for it in items:
        quotes = [g.get("quote", "") for g in it.get("gold", [])]
        for j, group in enumerate(it.get("answers", [])):
            if not any(form in q for form in group for q in quotes):
                errors.append(f"{it['id']}: no form of answer group {j} {_show(group, redact)} "
                              "occurs in its gold quotes")
    return errors


def _unanswerable_errors(items):
    errors = []
    for it in items:
        if it.get("kind") == "unanswerable":
            if it.get("answers") or it.get("gold"):
                errors.append(f"{it['id']}: unanswerable item must have empty answers and gold")
        else:
            if not it.get("answers"):
                errors.append(f"{it['id']}: answerable item has no answers")
            if not it.get("gold"):
                errors.append(f"{it['id']}: answerable item has no gold")
    return errors


def _comparison_errors(items):
    errors = []
    for it in items:
        if it.get("kind") != "comparison":
            continue
        sources = {g.get("source") for g in it.get("gold", [])}
        if len(sources) < 2 and COMPARISON_EXCEPTION_MARK not in it.get("note", ""):
            errors.append(f"{it['id']}: comparison cites {len(sources)} document(s)")
        if len(it.get("answers", [])) < 2:
            errors.append(f"{it['id']}: comparison needs one answer group per side")
    return errors


def _count_problems(items, min_total, min_per_kind, min_per_lang):
    kinds = Counter(it.get("kind") for it in items)
    langs = Counter(it.get("lang") for it in items)
    problems = []
    if len(items) < min_total:
        problems.append(f"only {len(items)} items (< {min_total})")
    for k in sorted(KINDS) if min_per_kind else []:
        if kinds[k] < min_per_kind:
            problems.append(f"kind {k}: {kinds[k]} (< {min_per_kind})")
    for lang, need in min_per_lang.items():
        if langs[lang] < need:
            problems.append(f"lang {lang}: {langs[lang]} (< {need})")
    return problems


# ---------------------------------------------------------------- the main set


def test_every_line_parses_as_object():
    _fail_if(_parse_errors(SET_PATH))


def test_fields_and_types():
    _fail_if(_field_errors(_items()))


def test_ids_unique():
    counts = Counter(it.get("id") for it in _items())
    dups = sorted(str(i) for i, c in counts.items() if c > 1)
    assert not dups, f"duplicate ids: {dups}"


def test_gold_sources_exist_and_quotes_are_verbatim():
    _fail_if(_quote_errors(_items(), ["documents"]))


def test_every_answer_group_is_supported_by_a_gold_quote():
    _fail_if(_form_errors(_items()))


def test_unanswerable_items_are_empty_and_answerable_items_are_not():
    _fail_if(_unanswerable_errors(_items()))


def test_comparison_items_cite_at_least_two_documents():
    _fail_if(_comparison_errors(_items()))


def test_minimum_counts():
    problems = _count_problems(_items(), MIN_TOTAL, MIN_PER_KIND, MIN_PER_LANG)
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


# ---------------------------------------------------------------- the unseen-document slices (eval/unseen/<split>/)


@pytest.mark.parametrize("split", SPLITS)
def test_split_lines_parse_and_fields_are_typed(split):
    _fail_if(_parse_errors(_split_set(split)) or _field_errors(_items(_split_set(split)), redact=True))


@pytest.mark.parametrize("split", SPLITS)
def test_split_documents_exist_and_do_not_clash_with_documents(split):
    docs = UNSEEN / split / "documents"
    assert docs.is_dir(), f"missing {docs.relative_to(ROOT)}/ beside {split}/set.jsonl"
    names = {p.name for p in docs.iterdir() if p.is_file() and not p.name.startswith(".")}
    clash = sorted(names & {p.name for p in (ROOT / "documents").iterdir()})
    assert not clash, f"{split}: files named like documents/ files (sources match by file name): {clash}"


@pytest.mark.parametrize("split", SPLITS)
def test_split_gold_sources_exist_and_quotes_are_verbatim(split):
    allowed = [f"eval/unseen/{split}/documents", "documents"]
    _fail_if(_quote_errors(_items(_split_set(split)), allowed, redact=True))


@pytest.mark.parametrize("split", SPLITS)
def test_split_answer_groups_are_supported_by_gold_quotes(split):
    _fail_if(_form_errors(_items(_split_set(split)), redact=True))


@pytest.mark.parametrize("split", SPLITS)
def test_split_unanswerable_and_comparison_items(split):
    items = _items(_split_set(split))
    _fail_if(_unanswerable_errors(items) + _comparison_errors(items))


@pytest.mark.parametrize("split", SPLITS)
def test_split_minimum_counts(split):
    problems = _count_problems(_items(_split_set(split)), SPLIT_MIN_TOTAL, 0, SPLIT_MIN_PER_LANG)
    assert not problems, f"{split}: " + "; ".join(problems)


def test_ids_unique_within_and_across_splits():
    where = {}
    dups = []
    for split in SPLITS:
        for it in _items(_split_set(split)):
            iid = it.get("id")
            if iid in where:
                dups.append(f"{iid} ({where[iid]} and {split})")
            where[iid] = split
    assert not dups, f"duplicate ids: {dups}"
