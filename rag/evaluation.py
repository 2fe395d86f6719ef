"""The eval runner behind `rag eval`: score policy-rag (and baselines, and other settings) on eval/set.jsonl.

    from rag import Settings
    from rag.evaluation import run_eval, format_table
    metrics = run_eval(Settings.load(), out_dir=Path("eval/runs/latest"))
    print(format_table(metrics))

Every metric is computed here from the answers, citations and retrieved chunks (no ragas); see
eval/README.md for their exact definitions. With `out_dir` the run writes report.md, metrics.json,
results.jsonl (one row per item and system) and accuracy_by_kind.png.
"""

from __future__ import annotations

import json
import re
import shlex
import statistics
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .errors import GenerationError, PolicyRagError
from .numbers import NUMBER_RE, ungrounded_numbers
from .settings import REPO_ROOT, Settings

__all__ = [
    "run_eval", "format_table", "load_set", "load_compare", "EvalSetError", "EvalItem",
    "normalise", "form_in", "group_matched", "answer_correct", "citation_correct", "refusal_pr",
    "retrieval_rank", "OURS", "KINDS", "LANGS",
]

OURS = "policy-rag"
KINDS = ("numeric", "fact", "comparison", "disambiguation", "paraphrase", "unanswerable")
LANGS = ("zh", "zh-Hant", "en", "mixed")
DEFAULT_SET = REPO_ROOT / "eval" / "set.jsonl"
MARKER_RE = re.compile(r"\[\d+\]")  # citation markers ("[1]") are not figures


class EvalSetError(PolicyRagError, ValueError):
    """The eval set file is missing or malformed."""


# ---------------------------------------------------------------- the set


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


def load_set(path: Path = DEFAULT_SET) -> list[EvalItem]:
    """Read and validate an eval set (format: eval/SCHEMA.md). Raises EvalSetError saying which line is wrong."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(f"cannot read eval set {path}: {exc}") from exc
    items, seen = [], set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{where}: not valid JSON ({exc}); each line must be one JSON object") from exc
        if not isinstance(row, dict):
            raise EvalSetError(f"{where}: expected a JSON object, got {type(row).__name__}")
        missing = [k for k in ("id", "question", "lang", "kind", "answers", "gold") if k not in row]
        if missing:
            raise EvalSetError(f"{where}: missing field(s) {', '.join(missing)} (see eval/SCHEMA.md)")
        item_id = row["id"]
        if not isinstance(item_id, str) or not item_id:
            raise EvalSetError(f"{where}: id must be a non-empty string")
        if item_id in seen:
            raise EvalSetError(f"{where}: duplicate id {item_id!r}")
        seen.add(item_id)
        if not isinstance(row["question"], str) or not row["question"].strip():
            raise EvalSetError(f"{where} ({item_id}): question must be a non-empty string")
        if row["kind"] not in KINDS:
            raise EvalSetError(f"{where} ({item_id}): kind {row['kind']!r} is not one of {', '.join(KINDS)}")
        if row["lang"] not in LANGS:
            raise EvalSetError(f"{where} ({item_id}): lang {row['lang']!r} is not one of {', '.join(LANGS)}")
        answers, gold = row["answers"], row["gold"]
        if not isinstance(answers, list) or not all(
                isinstance(g, list) and g and all(isinstance(f, str) and f for f in g) for g in answers):
            raise EvalSetError(f"{where} ({item_id}): answers must be a list of non-empty lists of non-empty strings")
        if not isinstance(gold, list) or not all(
                isinstance(g, dict) and isinstance(g.get("source"), str) and isinstance(g.get("quote"), str)
                and g["quote"] for g in gold):
            raise EvalSetError(f"{where} ({item_id}): gold must be a list of {{source, quote}} string objects")
        if (row["kind"] == "unanswerable") != (not answers and not gold):
            raise EvalSetError(f"{where} ({item_id}): unanswerable items need empty answers and gold; "
                               "all other kinds need both")
        items.append(EvalItem(item_id, row["question"], row["lang"], row["kind"],
                              tuple(tuple(g) for g in answers), tuple((g["source"], g["quote"]) for g in gold),
                              row.get("note") or ""))
    if not items:
        raise EvalSetError(f"eval set {path} holds no items")
    return items


def load_compare(paths: Iterable[str | Path], base: Settings) -> list[tuple[str, Settings]]:
    """`--compare FILE ...`: each JSON settings file overlaid on `base`, labelled by its file stem."""
    out = []
    for p in paths:
        p = Path(p)
        try:
            values = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            from .errors import SettingsError

            raise SettingsError(f"cannot read settings file {p}: {exc}") from exc
        merged = {**{k: v for k, v in base.to_dict().items() if k != "llm_api_key"}, **values}
        s = Settings.from_dict(merged)
        out.append((p.stem, s.with_overrides(llm_api_key=base.llm_api_key) if "llm_api_key" not in values else s))
    return out


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


def answer_correct(item: EvalItem, answer: str, refused: bool) -> bool:
    """Answerable: not refused and every answer group matched. Unanswerable: refused."""
    if not item.answerable:
        return bool(refused)
    return not refused and all(group_matched(g, answer) for g in item.answers)


def _same_source(a: str, b: str) -> bool:
    return Path(a).name == Path(b).name


def gold_spans(item: EvalItem, texts: dict[str, str]) -> list[tuple[str, int, int, str]]:
    """Every occurrence of every gold quote: (source, start, end, quote). `texts` maps source -> stored text."""
    out = []
    for source, quote in item.gold:
        text = next((t for s, t in texts.items() if _same_source(s, source)), None)
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
    if not any(_same_source(cit["source"], s) for s, _ in item.gold):
        return False
    if group_matched(group, cit["quote"]):
        return True
    return any(_same_source(cit["source"], s) and _overlaps(cit["start"], cit["end"], a, b) and group_matched(group, q)
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
        if any(_same_source(source, s) and _overlaps(start, end, a, b) for s, a, b, _ in spans):
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


# ---------------------------------------------------------------- systems


@dataclass
class _System:
    label: str
    kind: str  # "ours" | "baseline" | "compare"
    settings: Settings | None = None
    assistant: Any = None
    baseline: Any = None
    rows: list[dict] = field(default_factory=list)


def _ask_ours(system: _System, item: EvalItem) -> dict:
    a = system.assistant
    t0 = time.perf_counter()
    try:
        ans = a.ask(item.question)
        error = None
    except PolicyRagError as exc:  # an error is a failed item, not a failed run
        ans, error = None, f"{type(exc).__name__}: {exc}"
    latency = (time.perf_counter() - t0) * 1000
    docs = a.retriever.invoke(item.question) if item.answerable else []
    ranked = [(d.metadata["source"], d.metadata["start"], d.metadata["end"]) for d in docs]
    if ans is None:
        return {"answer": "", "refused": False, "citations": [], "titles": [], "latency_ms": latency,
                "ranked": ranked, "error": error}
    cits = [{"doc_id": c.doc_id, "source": c.source, "quote": c.quote, "start": c.start, "end": c.end}
            for c in ans.citations]
    return {"answer": ans.answer, "refused": ans.refused, "citations": cits,
            "titles": [c.title for c in ans.citations], "latency_ms": latency, "ranked": ranked,
            "support": round(ans.support, 4), "reason": ans.reason, "mode": ans.mode}


def _ask_baseline(system: _System, item: EvalItem) -> dict:
    t0 = time.perf_counter()
    ans = system.baseline.ask(item.question)
    latency = (time.perf_counter() - t0) * 1000
    cits = [{"doc_id": c.doc_id, "source": c.source, "quote": c.quote, "start": c.start, "end": c.end}
            for c in ans.citations]
    return {"answer": ans.answer, "refused": ans.refused, "citations": cits,
            "titles": [c.title for c in ans.citations], "latency_ms": latency,
            "ranked": [(c.source, c.start, c.end) for c in ans.ranked]}


def _score(item: EvalItem, raw: dict, texts: dict[str, str], k: int, min_support: float | None = None) -> dict:
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
    row["failure"] = _failure(item, raw, row, k, min_support)
    return row


def _failure(item: EvalItem, raw: dict, row: dict, k: int, min_support: float | None = None) -> str | None:
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


def _breakdown(rows: list[dict]) -> dict:
    return {
        "overall": aggregate(rows),
        "by_kind": {k: aggregate([r for r in rows if r["kind"] == k]) for k in KINDS if any(r["kind"] == k for r in rows)},
        "by_lang": {g: aggregate([r for r in rows if r["lang"] == g]) for g in LANGS if any(r["lang"] == g for r in rows)},
    }


# ---------------------------------------------------------------- optional LLM judge


JUDGE_PROMPT = """You check whether an answer is supported by quoted evidence.
Split the ANSWER into its atomic factual claims (figures, names, dates, targets). For each claim decide
whether the QUOTES state it (a claim is supported only if the quotes say it, not if it is merely plausible).
Reply with JSON only: {{"claims": <number of claims>, "supported": <number supported>}}

QUOTES:
{quotes}

ANSWER:
{answer}"""


def _judge(settings: Settings):
    if not (settings.llm_base_url or settings.llm_api_key):
        raise GenerationError(
            "--llm-judge needs an OpenAI-compatible endpoint: set POLICY_RAG_LLM_BASE_URL (or OPENAI_BASE_URL) "
            "and POLICY_RAG_LLM_API_KEY (or OPENAI_API_KEY), and POLICY_RAG_LLM_MODEL for a model it serves")
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise GenerationError("--llm-judge needs langchain-openai: pip install 'policy-rag[llm]'") from exc
    return ChatOpenAI(model=settings.llm_model, base_url=settings.llm_base_url, api_key=settings.llm_api_key or "none",
                      timeout=settings.llm_timeout_s, temperature=0)


def faithfulness(llm, answer: str, quotes: list[str]) -> float | None:
    """RAGAS-style faithfulness: share of the answer's claims that the cited quotes support (None if unparsable)."""
    reply = llm.invoke(JUDGE_PROMPT.format(quotes="\n".join(f"- {q}" for q in quotes) or "(none)", answer=answer))
    m = re.search(r"\{.*\}", str(getattr(reply, "content", reply)), re.S)
    try:
        data = json.loads(m.group(0)) if m else {}
        claims, supported = int(data["claims"]), int(data["supported"])
    except (ValueError, KeyError, TypeError):
        return None
    return 1.0 if claims <= 0 else max(0.0, min(1.0, supported / claims))


# ---------------------------------------------------------------- run


_BASELINE_CACHE: dict[tuple, list] = {}


def _baselines_for(assistant, k: int) -> list:
    """Baseline indexes, cached in memory per (documents, embedder, k) for the life of the process."""
    from .baselines import build_baselines

    index = assistant.index
    key = (tuple(sorted((d.doc_id, d.sha256) for d in index.documents.values())), index.embedder.name,
           id(assistant.embedder), k)
    if key not in _BASELINE_CACHE:
        _BASELINE_CACHE[key] = build_baselines(index, assistant.embedder, k=k)
    return _BASELINE_CACHE[key]


def run_eval(settings: Settings, *, set_path: Path = DEFAULT_SET, out_dir: Path | None = None,
             compare: list[tuple[str, Settings]] | None = None, baselines: bool = True, limit: int | None = None,
             ids: list[str] | None = None, progress: bool = True, llm_judge: bool = False) -> dict:
    """Score policy-rag on the eval set (plus baselines and `compare` systems); return the metrics dict.

    With `out_dir`: also write report.md, metrics.json, results.jsonl and accuracy_by_kind.png there.
    """
    from tqdm.auto import tqdm

    from .assistant import Assistant
    from .baselines import HYBRID_LABEL, TUTORIAL_LABEL  # noqa: F401  (labels documented in the report)

    t_start = time.perf_counter()
    items = load_set(set_path)
    if ids is not None:
        wanted = list(dict.fromkeys(ids))
        known = {it.id for it in items}
        unknown = [i for i in wanted if i not in known]
        if unknown:
            raise EvalSetError(f"id(s) not in {set_path}: {', '.join(unknown)}")
        items = [it for it in items if it.id in set(wanted)]
    if limit is not None:
        if limit < 1:
            raise EvalSetError(f"limit must be at least 1 (got {limit})")
        items = items[:limit]
    judge = _judge(settings) if llm_judge else None

    ours = Assistant.from_settings(settings)
    texts = {d.source: d.text for d in ours.index.documents.values()}
    for it in items:
        for source, quote in it.gold:
            text = next((t for s, t in texts.items() if _same_source(s, source)), None)
            if text is None:
                raise EvalSetError(f"{it.id}: gold source {source} is not in the index at {settings.index_dir}; "
                                   f"index the documents the set was written for ({settings.documents_dir})")
            if quote not in text:
                raise EvalSetError(f"{it.id}: gold quote {quote[:40]!r} is not in the stored text of {source}; "
                                   "the document changed since the set was written")

    systems = [_System(OURS, "ours", settings, assistant=ours)]
    t_build = time.perf_counter()
    if baselines:
        for b in _baselines_for(ours, settings.k):
            systems.append(_System(b.label, "baseline", baseline=b))
    baseline_build_s = time.perf_counter() - t_build
    labels = {OURS} | {s.label for s in systems}
    for label, s in compare or []:
        if label in labels:
            raise EvalSetError(f"compare label {label!r} is used twice; give each compared system its own name")
        labels.add(label)
        systems.append(_System(label, "compare", s, assistant=Assistant.from_settings(s)))

    for it in tqdm(items, desc="eval", unit="item", disable=not progress):
        for sysm in systems:
            raw = _ask_baseline(sysm, it) if sysm.kind == "baseline" else _ask_ours(sysm, it)
            k = sysm.settings.k if sysm.settings else settings.k
            scored = _score(it, raw, texts, k, sysm.settings.min_support if sysm.settings else None)
            if judge is not None and sysm.kind != "baseline" and not raw["refused"] and raw["answer"]:
                try:
                    scored["faithfulness"] = faithfulness(judge, raw["answer"], [c["quote"] for c in raw["citations"]])
                except Exception as exc:  # endpoint errors: fail loudly, naming the endpoint
                    raise GenerationError(f"LLM judge call to {settings.llm_base_url or 'OpenAI'} failed: {exc}") from exc
            row = {"id": it.id, "kind": it.kind, "lang": it.lang, "question": it.question, "system": sysm.label,
                   "expected": [list(g) for g in it.answers], "answer": raw["answer"], "refused": raw["refused"],
                   "citations": raw["citations"], **scored, "latency_ms": round(raw["latency_ms"], 1)}
            for extra in ("support", "reason", "mode"):
                if extra in raw:
                    row[extra] = raw[extra]
            sysm.rows.append(row)

    metrics = {
        "set": str(set_path),
        "items": len(items),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - t_start, 1),
        "baseline_build_seconds": round(baseline_build_s, 1) if baselines else None,
        "llm_judge": bool(llm_judge),
        "systems": {s.label: {"role": s.kind, "k": (s.settings.k if s.settings else settings.k),
                              "settings": s.settings.to_dict() if s.settings else None, **_breakdown(s.rows)}
                    for s in systems},
    }
    if out_dir is not None:
        _write_outputs(Path(out_dir), metrics, systems, items, settings, compare or [], set_path, limit, ids,
                       baselines, llm_judge)
    return metrics


# ---------------------------------------------------------------- outputs


def _f(x: float | None, pct: bool = True) -> str:
    if x is None:
        return "–"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.0f}"


def format_table(metrics: dict) -> str:
    """The headline Markdown table: one row per system."""
    judge = any("faithfulness" in s["overall"] for s in metrics["systems"].values())
    head = ["system", "answer acc", "citation acc", "offset validity", "refusal P", "refusal R", "groundedness",
            "recall@k", "MRR", "p50 ms", "p95 ms"] + (["faithfulness (LLM)"] if judge else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    for label, s in metrics["systems"].items():
        o = s["overall"]
        cells = [f"{label} (k={s['k']})" if s["role"] != "baseline" else label,
                 _f(o["answer_accuracy"]), _f(o["citation_accuracy"]), _f(o["offset_validity"]),
                 _f(o["refusal_precision"]), _f(o["refusal_recall"]), _f(o["groundedness"]),
                 _f(o["recall_at_k"]), _f(o["mrr"], pct=False), _ms(o["latency_p50_ms"]), _ms(o["latency_p95_ms"])]
        if judge:
            cells.append(_f(o.get("faithfulness")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _group_table(metrics: dict, key: str, names: Iterable[str]) -> str:
    systems = list(metrics["systems"])
    head = [key.removeprefix("by_")] + ["n"] + [f"{s} answer / citation" for s in systems]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for name in names:
        first = metrics["systems"][systems[0]][key].get(name)
        if not first:
            continue
        cells = [name, str(first["n"])]
        for s in systems:
            m = metrics["systems"][s][key][name]
            cells.append(f"{_f(m['answer_accuracy'])} / {_f(m['citation_accuracy'])}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _reproduce(out_dir: Path, settings: Settings, compare: list, set_path: Path, limit, ids, baselines,
               llm_judge) -> str:
    """Write the exact settings used under out_dir/settings/ and return the command that re-runs this eval."""
    sdir = out_dir / "settings"
    sdir.mkdir(parents=True, exist_ok=True)

    def dump(name: str, s: Settings) -> Path:
        values = {k: v for k, v in s.to_dict().items() if k != "llm_api_key"}
        p = sdir / f"{name}.json"
        p.write_text(json.dumps(values, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return p

    def rel(p: Path) -> str:
        p = Path(p).resolve()
        try:
            return str(p.relative_to(REPO_ROOT))
        except ValueError:
            return str(p)

    base = dump(OURS, settings)
    cmp_files = [dump(re.sub(r"[^\w.\-]+", "_", label), s) for label, s in compare]
    if ids is not None:
        q = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731  (double quotes: no clash with the shell's)
        args = [f"Settings.load({q(rel(base))})", f"out_dir=Path({q(rel(out_dir))})"]
        if Path(set_path).resolve() != DEFAULT_SET.resolve():
            args.append(f"set_path=Path({q(rel(set_path))})")
        if compare:
            pairs = q([[lb, rel(p)] for (lb, _), p in zip(compare, cmp_files)])
            args.append(f"compare=[(lb, Settings.load(p)) for lb, p in {pairs}]")
        args += [f"ids={q(list(ids))}"] + ([f"limit={limit}"] if limit else []) \
            + ([] if baselines else ["baselines=False"]) + (["llm_judge=True"] if llm_judge else [])
        code = ("from pathlib import Path; from rag import Settings; from rag.evaluation import run_eval; "
                f"run_eval({', '.join(args)})")
        return f"python -c {shlex.quote(code)}"
    cmd = ["rag", "eval", "--settings", rel(base), "--out", rel(out_dir)]
    if Path(set_path).resolve() != DEFAULT_SET.resolve():
        cmd += ["--set", rel(set_path)]
    if compare:
        cmd += ["--compare", *(rel(p) for p in cmp_files)]
    if limit:
        cmd += ["--limit", str(limit)]
    if not baselines:
        cmd.append("--no-baselines")
    if llm_judge:
        cmd.append("--llm-judge")
    return shlex.join(cmd)


def _plot(path: Path, metrics: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    systems = list(metrics["systems"])
    first = metrics["systems"][systems[0]]
    kinds = [k for k in KINDS if k in first["by_kind"]] + ["all"]
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 1.6 * len(kinds) * max(1, len(systems)) / 2), 8), sharex=True)
    x = np.arange(len(kinds))
    width = 0.8 / len(systems)
    for ax, key, title in ((axes[0], "answer_accuracy", "Answer accuracy"),
                           (axes[1], "citation_accuracy", "Citation accuracy")):
        for i, s in enumerate(systems):
            m = metrics["systems"][s]
            vals = [(m["by_kind"][k] if k != "all" else m["overall"])[key] or 0.0 for k in kinds]
            bars = ax.bar(x - 0.4 + width * (i + 0.5), [100 * v for v in vals], width, label=s)
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.set_ylabel(f"{title} (%)")
        ax.set_ylim(0, 110)
        ax.set_title(f"{title} by question kind")
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_xticks(x, [f"{k}\n(n={(first['by_kind'][k] if k != 'all' else first['overall'])['n']})" for k in kinds])
    axes[0].legend(fontsize=8, loc="upper right", ncol=min(3, len(systems)))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _write_outputs(out_dir: Path, metrics: dict, systems: list[_System], items: list[EvalItem], settings: Settings,
                   compare: list, set_path: Path, limit, ids, baselines: bool, llm_judge: bool) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    command = _reproduce(out_dir, settings, compare, set_path, limit, ids, baselines, llm_judge)
    metrics["command"] = command
    with (out_dir / "results.jsonl").open("w", encoding="utf-8") as f:
        for s in systems:
            for row in s.rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    _plot(out_dir / "accuracy_by_kind.png", metrics)

    ours = next(s for s in systems if s.kind == "ours")
    failures = [r for r in ours.rows if r["failure"]]
    md = [f"# policy-rag eval report", "",
          f"{metrics['items']} items from `{set_path}`, run {metrics['created_at']} in {metrics['seconds']} s"
          + (f" (baseline indexes built in {metrics['baseline_build_seconds']} s)" if baselines else "") + ".",
          "Metric definitions: `eval/README.md`.", "", "## Headline", "", format_table(metrics), "",
          "![Accuracy by kind](accuracy_by_kind.png)", "",
          "## By question kind (answer accuracy / citation accuracy)", "",
          _group_table(metrics, "by_kind", KINDS), "",
          "## By language (answer accuracy / citation accuracy)", "",
          _group_table(metrics, "by_lang", LANGS), "", "## Settings", ""]
    for s in systems:
        if s.settings is not None:
            md += [f"`{s.label}`:", "", "```json", json.dumps(s.settings.to_dict(), ensure_ascii=False, indent=2),
                   "```", ""]
    if baselines:
        md += ["Baselines (see `rag/baselines.py`): **LangChain tutorial RAG** = RecursiveCharacterTextSplitter(500/50) + "
               "InMemoryVectorStore, top-1 chunk; **Chatchat-style hybrid** = Chinese recursive splitter (250/50), "
               "jieba BM25 + dense, min-max fused 0.5/0.5, top-1 chunk. Same embedder as policy-rag, no refusal.", ""]
    md += ["## Reproduce", "", "```", command, "```", "",
           f"## Failures ({len(failures)} of {len(ours.rows)} items, {OURS})", ""]
    if not failures:
        md.append("None.")
    for r in failures:
        exp = " + ".join("/".join(g) for g in r["expected"]) or "(refusal)"
        ans = r["answer"].replace("\n", " ")
        ans = ans[:120] + ("…" if len(ans) > 120 else "")
        md += [f"- **{r['id']}** ({r['kind']}, {r['lang']}) {r['question']}",
               f"  - expected: {exp}",
               f"  - answer: {ans}",
               f"  - failure: {r['failure']}"]
    (out_dir / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")
