"""The eval runner behind `rag eval`: score policy-rag (and baselines, and other settings) on eval/set.jsonl.

    from rag import Settings
    from rag.evaluation import run_eval, format_table
    metrics = run_eval(Settings.load(), out_dir=Path("eval/runs/latest"))
    print(format_table(metrics))

Every metric is computed from the answers, citations and retrieved chunks (no ragas); see eval/README.md
for their exact definitions. With `out_dir` the run writes report.md, metrics.json, results.jsonl (one row
per item and system) and accuracy_by_kind.png.

This module loads and validates the set, runs the systems and ties a run together (`run_eval`,
`load_compare`, the optional LLM judge). The metrics live in `rag.eval_metrics` and the report writer in
`rag.eval_report`; the names callers use from either are re-exported here.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .errors import GenerationError, PolicyRagError
from .eval_metrics import (
    KINDS,
    LANGS,
    OURS,
    EvalItem,
    aggregate,
    answer_correct,
    breakdown,
    citation_correct,
    form_in,
    gold_spans,
    group_matched,
    normalise,
    refusal_pr,
    retrieval_rank,
    same_source,
    score_item,
)
from .eval_report import format_table, write_outputs
from .settings import REPO_ROOT, Settings

__all__ = [
    "run_eval", "format_table", "load_set", "load_compare", "EvalSetError", "EvalItem", "DEFAULT_SET",
    "normalise", "form_in", "group_matched", "answer_correct", "gold_spans", "citation_correct", "refusal_pr",
    "retrieval_rank", "aggregate", "faithfulness", "OURS", "KINDS", "LANGS",
]

DEFAULT_SET = REPO_ROOT / "eval" / "set.jsonl"


class EvalSetError(PolicyRagError, ValueError):
    """The eval set file is missing or malformed."""


# ---------------------------------------------------------------- the set


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
            text = next((t for s, t in texts.items() if same_source(s, source)), None)
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
            scored = score_item(it, raw, texts, k, sysm.settings.min_support if sysm.settings else None)
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
                              "settings": s.settings.to_dict() if s.settings else None, **breakdown(s.rows)}
                    for s in systems},
    }
    if out_dir is not None:
        write_outputs(Path(out_dir), metrics, systems, items, settings, compare or [], set_path, limit, ids,
                      baselines, llm_judge, default_set=DEFAULT_SET)
    return metrics
