"""Eval metrics: answer matching, per-item scoring and aggregate metrics for `rag eval`.

Pure functions over the eval items, the systems' answers and the stored document texts (no model, no
index): number-boundary answer matching (`form_in`), answer / citation correctness, retrieval rank,
per-item scoring with a failure explanation (`score_item`), and the aggregates (answer and citation
accuracy, offset validity, refusal precision/recall, groundedness, recall@k, MRR, latency percentiles).
Their exact definitions are in eval/README.md. Also the set's vocabulary (`EvalItem`, `KINDS`, `LANGS`)
and the label of the system under test (`OURS`), shared by the loader and the report writer.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .numbers import NUMBER_RE, ungrounded_numbers

__all__ = [
    "OURS", "KINDS", "LANGS", "MARKER_RE", "EvalItem",
    "normalise", "form_in", "group_matched", "answer_correct", "same_source", "gold_spans", "citation_supports",
    "citation_correct", "retrieval_rank", "refusal_pr", "count_numbers", "score_item", "explain_failure",
    "aggregate", "breakdown",
]

OURS = "policy-rag"
KINDS = ("numeric", "fact", "comparison", "disambiguation", "paraphrase", "unanswerable")
LANGS = ("zh", "zh-Hant", "en", "mixed")
MARKER_RE = re.compile(r"\[\d+\]")  # citation markers ("[1]") are not figures


# ---------------------------------------------------------------- the items


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    lang: str
    kind: str
    answers: tuple[tuple[str, ...], ...]
    gold: tuple[tuple[str, str], ...]  # (source, quote)
    note: str = ""

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


# ---------------------------------------------------------------- matching


_UNIT_SPACE = re.compile(r"(?<=\d)\s+(?=[^\d\s])")


def normalise(text: str) -> str:
    """NFKC, and no whitespace between a number and what follows it ("200 家" -> "200家")."""
    return _UNIT_SPACE.sub("", unicodedata.normalize("NFKC", text))


def form_in(form: str, text: str) -> bool:
    """`form` occurs in `text` with number boundaries respected (both NFKC-normalised).

    A form starting with a digit must not be preceded by a digit or "."; a form ending with a digit
    must not be followed by a digit or by a decimal part (".5"). So "2%" is not in "3.2%", "200家" is
    not in "1200家", "3" is not in "3.5", but "520" is in "达到520." (a full stop is not a decimal).
    """
    form, text = normalise(form).strip(), normalise(text)
    if not form:
        return False
    pre = r"(?<![\d.])" if form[0].isdigit() else ""
    post = r"(?!\d|\.\d)" if form[-1].isdigit() else ""
    return re.search(pre + re.escape(form) + post, text) is not None


def group_matched(group: Iterable[str], text: str) -> bool:
    return any(form_in(f, text) for f in group)


# A table row: cells between pipes, or runs of two or more spaces / ideographic spaces / tabs.
TABLE_ROW = re.compile(r"\|.*\|.*\||\S(?:[ \t　]{2,}|[\t　])\S.*\S(?:[ \t　]{2,}|[\t　])\S")
CELL_EDGE = r"(?:^|(?<=[|\s　]))%s(?=$|[|\s　])"


def row_holds(group: Iterable[str], quote: str) -> bool:
    """A table row quote holds a figure when one of its cells is the number and the row names its unit (in the
    label or unit cell): "| 全社会研发投入强度 | % | 1.31 | 1.52 | 2.0 | 滞后 |" holds 2.0%, "8　科技进步贡献率（%）　56
    62　预期性" holds 62%. The row is what the plan wrote; its unit stands apart from its figures."""
    if not TABLE_ROW.search(quote):
        return False
    for form in group:
        m = re.fullmatch(r"([\d.,]+)\s*(\S*)", form.replace(" ", ""))
        if m and m.group(2) and m.group(2) in quote and re.search(CELL_EDGE % re.escape(m.group(1)), quote):
            return True
    return False


def answer_correct(item: EvalItem, answer: str, refused: bool) -> bool:
    """Answerable: not refused and every answer group matched. Unanswerable: refused."""
    if not item.answerable:
        return bool(refused)
    return not refused and all(group_matched(g, answer) for g in item.answers)


def same_source(a: str, b: str) -> bool:
    """Two source paths name the same document (same file name)."""
    return Path(a).name == Path(b).name


def gold_spans(item: EvalItem, texts: dict[str, str]) -> list[tuple[str, int, int, str]]:
    """Every occurrence of every gold quote: (source, start, end, quote). `texts` maps source -> stored text."""
    out = []
    for source, quote in item.gold:
        text = next((t for s, t in texts.items() if same_source(s, source)), None)
        if text is None:
            continue
        for m in re.finditer(re.escape(quote), text):
            out.append((source, m.start(), m.end(), quote))
    return out


def _overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 < b1 and b0 < a1


def citation_supports(item: EvalItem, group: tuple[str, ...], cit: dict, spans: list) -> bool:
    """A citation from a gold document whose quote holds a form of `group`, or whose span overlaps a gold
    quote span (same document) that holds one."""
    if not any(same_source(cit["source"], s) for s, _ in item.gold):
        return False
    if group_matched(group, cit["quote"]) or row_holds(group, cit["quote"]):
        return True
    return any(same_source(cit["source"], s) and _overlaps(cit["start"], cit["end"], a, b) and group_matched(group, q)
               for s, a, b, q in spans)


def citation_correct(item: EvalItem, citations: list[dict], spans: list) -> bool:
    """Answerable: some citation supports an answer group (comparison: every group). Unanswerable: no citations."""
    if not item.answerable:
        return not citations
    ok = [any(citation_supports(item, g, c, spans) for c in citations) for g in item.answers]
    return all(ok) if item.kind == "comparison" else any(ok)


def retrieval_rank(docs: list[tuple[str, int, int]], spans: list) -> int | None:
    """1-based rank of the first retrieved (source, start, end) overlapping a gold quote span, or None."""
    for r, (source, start, end) in enumerate(docs, 1):
        if any(same_source(source, s) and _overlaps(start, end, a, b) for s, a, b, _ in spans):
            return r
    return None


def refusal_pr(rows: list[dict]) -> tuple[float | None, float | None]:
    """Precision and recall of refusing (positive = refused; gold positive = kind unanswerable)."""
    tp = sum(1 for r in rows if r["refused"] and r["kind"] == "unanswerable")
    fp = sum(1 for r in rows if r["refused"] and r["kind"] != "unanswerable")
    fn = sum(1 for r in rows if not r["refused"] and r["kind"] == "unanswerable")
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return precision, recall


def count_numbers(text: str) -> int:
    from .numbers import _cn_numerals_to_arabic  # same conversion ungrounded_numbers applies

    return sum(1 for _ in NUMBER_RE.finditer(_cn_numerals_to_arabic(text)))


# ---------------------------------------------------------------- per-item scoring


def score_item(item: EvalItem, raw: dict, texts: dict[str, str], k: int, min_support: float | None = None) -> dict:
    """Score one system's raw answer to one item: correctness, offsets, groundedness, retrieval rank, failure."""
    spans = gold_spans(item, texts)
    answer, refused, cits = raw["answer"], raw["refused"], raw["citations"]
    offsets = [texts.get(c["source"], None) is not None and texts[c["source"]][c["start"]:c["end"]] == c["quote"]
               for c in cits]
    row: dict[str, Any] = {
        "answer_correct": answer_correct(item, answer, refused) and not raw.get("error"),
        "citation_correct": citation_correct(item, cits, spans) and not raw.get("error"),
        "offsets_valid": sum(offsets), "citations_n": len(cits),
    }
    if not refused and answer:
        evidence = "\n".join([c["quote"] for c in cits] + raw.get("titles", []))
        bare = MARKER_RE.sub(" ", answer)
        row["numbers"] = count_numbers(bare)
        row["ungrounded"] = ungrounded_numbers(bare, evidence)
    else:
        row["numbers"], row["ungrounded"] = 0, []
    if item.answerable:
        rank = retrieval_rank(raw["ranked"][:k], spans)
        row["retrieval_rank"] = rank
    else:
        row["retrieval_rank"] = None
    row["failure"] = explain_failure(item, raw, row, k, min_support)
    return row


def explain_failure(item: EvalItem, raw: dict, row: dict, k: int, min_support: float | None = None) -> str | None:
    """A short explanation, naming the stage that most likely failed (retrieval / clause selection /
    refusal threshold / query analysis / citation). None when the item passed."""
    if row["answer_correct"] and row["citation_correct"]:
        return None
    if raw.get("error"):
        return f"error: {raw['error']}"
    answer, refused = raw["answer"], raw["refused"]
    support = f" (support={raw['support']:.2f})" if "support" in raw else ""
    if not item.answerable:
        cited = sorted({Path(c["source"]).stem for c in raw["citations"]})
        return (f"query analysis/refusal threshold: answered an unanswerable question{support}"
                + (f", citing {', '.join(cited)}" if cited else ""))
    rank = row["retrieval_rank"]
    where = f"gold passage at retrieval rank {rank}" if rank else f"no gold passage in retrieval top-{k}"
    if refused:
        reason = raw.get("reason") or ""
        if reason.startswith("no indexed plan") or reason.startswith("no plan") or "no plan indexed" in reason:
            stage = "query analysis (city/year)"
        elif raw.get("support", 1.0) < 0.05:
            stage = "query analysis (no key term of the question found in any retrieved clause)"
        elif min_support is not None and raw.get("support", 0.0) >= min_support:
            stage = f"answer rules (best support is above min_support={min_support} but no clause was kept)"
        else:
            stage = "refusal threshold" if rank else "retrieval"
        return f"{stage}: refused{support} ({reason}); {where}"
    if not row["answer_correct"]:
        missing = [g for g in item.answers if not group_matched(g, answer)]
        exp = "; ".join("/".join(g) for g in missing)
        stage = "clause selection" if rank else "retrieval"
        return f"{stage}: answer lacks {exp}; {where}"
    gold_docs = sorted({Path(s).stem for s, _ in item.gold})
    cited = sorted({Path(c["source"]).stem for c in raw["citations"]})
    return (f"citation: answer right but no citation from {', '.join(gold_docs)} quotes the figure"
            f" (cited: {', '.join(cited) or 'nothing'})")


# ---------------------------------------------------------------- aggregation


def _pct(values: list[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def aggregate(rows: list[dict]) -> dict:
    """Metrics over a list of scored rows (one system)."""
    answerable = [r for r in rows if r["kind"] != "unanswerable"]
    cit_n = sum(r["citations_n"] for r in rows)
    nums = sum(r["numbers"] for r in rows)
    precision, recall = refusal_pr(rows)
    ranks = [r["retrieval_rank"] for r in answerable]
    lat = [r["latency_ms"] for r in rows]
    out = {
        "n": len(rows),
        "answer_accuracy": _pct([r["answer_correct"] for r in rows]),
        "citation_accuracy": _pct([r["citation_correct"] for r in rows]),
        "offset_validity": sum(r["offsets_valid"] for r in rows) / cit_n if cit_n else None,
        "citations": cit_n,
        "refusal_precision": precision,
        "refusal_recall": recall,
        "groundedness": 1 - sum(len(r["ungrounded"]) for r in rows) / nums if nums else None,
        "numbers_checked": nums,
        "recall_at_k": _pct([x is not None for x in ranks]),
        "mrr": sum(1 / x for x in ranks if x) / len(ranks) if ranks else None,
        "latency_p50_ms": _percentile(lat, 50),
        "latency_p95_ms": _percentile(lat, 95),
    }
    faith = [r["faithfulness"] for r in rows if r.get("faithfulness") is not None]
    if faith:
        out["faithfulness"] = sum(faith) / len(faith)
    return out


def breakdown(rows: list[dict]) -> dict:
    """`aggregate` overall, by question kind and by language."""
    return {
        "overall": aggregate(rows),
        "by_kind": {k: aggregate([r for r in rows if r["kind"] == k]) for k in KINDS if any(r["kind"] == k for r in rows)},
        "by_lang": {g: aggregate([r for r in rows if r["lang"] == g]) for g in LANGS if any(r["lang"] == g for r in rows)},
    }
