"""The eval runner behind `rag eval`: score policy-rag (and baselines, and other settings) on eval/set.jsonl
and on eval slices of unseen documents (eval/unseen/<split>/, see `rag.eval_slices`).

    from rag import Settings
    from rag.evaluation import run_eval, format_table
    metrics = run_eval(Settings.load(), out_dir=Path("eval/runs/latest"))
    print(format_table(metrics))

Every metric is computed from the answers, citations and retrieved chunks (no ragas); see eval/README.md
for their exact definitions. With `out_dir` the run writes report.md, metrics.json, results.jsonl (one row
per item, system and set) and accuracy_by_kind*.png.

This module loads and validates the sets, runs the systems on each set and ties a run together (`run_eval`,
`load_compare`, the optional LLM judge). Slice discovery and index staging live in `rag.eval_slices`, the
metrics in `rag.eval_metrics` and the report writer in `rag.eval_report`; the names callers use from them
are re-exported here.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import GenerationError, PolicyRagError
from .eval_metrics import (KINDS, LANGS, OURS, EvalItem, aggregate, answer_correct, breakdown, citation_correct,
                           form_in, gold_spans, group_matched, normalise, refusal_pr, retrieval_rank, same_source,
                           score_item)
from .eval_report import format_table, write_outputs
from .eval_slices import EvalSlice, discover_slices, prepare_slice, resolve_slices
from .locations import eval_dir
from .settings import Settings

__all__ = [
    "run_eval", "format_table", "load_set", "load_compare", "EvalSetError", "EvalItem", "DEFAULT_SET",
    "normalise", "form_in", "group_matched", "answer_correct", "gold_spans", "citation_correct", "refusal_pr",
    "retrieval_rank", "aggregate", "faithfulness", "OURS", "KINDS", "LANGS", "EvalSlice", "discover_slices",
    "resolve_slices", "SetRun",
]

# The checkout's eval/set.jsonl, or the copy a wheel carries (rag/locations.py).
DEFAULT_SET = eval_dir() / "set.jsonl"


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
    key = (tuple(sorted((d.doc_id, d.sha256) for d in index.catalog.values())), index.embedder.name,
           id(assistant.embedder), k)
    if key not in _BASELINE_CACHE:
        _BASELINE_CACHE[key] = build_baselines(index, assistant.embedder, k=k)
    return _BASELINE_CACHE[key]


@dataclass
class SetRun:
    """One eval set scored by every system: the main set (name "main") or a slice (name "unseen-dev", ...)."""

    name: str
    set_path: Path
    items: list[EvalItem]
    slice: EvalSlice | None = None
    systems: list[_System] = field(default_factory=list)
    index_dir: Path | None = None
    documents: list[str] = field(default_factory=list)  # the indexed documents' sources
    seconds: float = 0.0
    baseline_build_seconds: float | None = None

    def metrics(self, settings: Settings) -> dict:
        build_s = self.baseline_build_seconds
        return {
            "set": str(self.set_path), "items": len(self.items), "seconds": round(self.seconds, 1),
            "baseline_build_seconds": None if build_s is None else round(build_s, 1),
            "systems": {s.label: {"role": s.kind, "k": (s.settings.k if s.settings else settings.k),
                                  "settings": s.settings.to_dict() if s.settings else None, **breakdown(s.rows)}
                        for s in self.systems},
        }


def _select(sets: list[SetRun], ids: list[str] | None, limit: int | None) -> list[SetRun]:
    """Apply `ids` (across all sets; a set left with no item is dropped) and then `limit` (to each set)."""
    if limit is not None and limit < 1:
        raise EvalSetError(f"limit must be at least 1 (got {limit})")
    if ids is not None:
        wanted = set(ids)
        unknown = [i for i in dict.fromkeys(ids) if not any(it.id == i for r in sets for it in r.items)]
        if unknown:
            raise EvalSetError(f"id(s) not in {', '.join(str(r.set_path) for r in sets)}: {', '.join(unknown)}")
        for r in sets:
            r.items = [it for it in r.items if it.id in wanted]
        sets = [r for r in sets if r.items]
    for r in sets:
        r.items = r.items[:limit] if limit is not None else r.items
    return sets


def _check_gold(run: SetRun, texts: dict[str, str], documents_dir: Path) -> None:
    """Every gold quote must be in the stored text of an indexed document of the same file name."""
    sl = run.slice
    built_from = documents_dir if sl is None else f"{documents_dir} + {sl.documents_dir}"
    for it in run.items:
        where = it.id if sl is None else f"slice {sl.name} ({run.set_path}), item {it.id}"
        for n, (source, quote) in enumerate(it.gold, 1):
            text = next((t for s, t in texts.items() if same_source(s, source)), None)
            if text is None:
                raise EvalSetError(f"{where}: gold source {source} is not in the index at {run.index_dir}; "
                                   f"index the documents the set was written for ({built_from})")
            if quote not in text:
                shown = f"#{n}" if sl is not None and sl.sealed else f"{quote[:40]!r}"
                raise EvalSetError(f"{where}: gold quote {shown} is not in the stored text of {source}; "
                                   "the document changed since the set was written")


def _systems(ours, settings: Settings, compare: list[tuple[str, Settings]], baselines: bool,
             sl: EvalSlice | None, progress: bool) -> tuple[list[_System], float | None]:
    """policy-rag, the baselines and the compared settings for one set (on the slice's index for a slice)."""
    from .assistant import Assistant

    systems = [_System(OURS, "ours", settings, assistant=ours)]
    t_build = time.perf_counter()
    if baselines:
        systems += [_System(b.label, "baseline", baseline=b) for b in _baselines_for(ours, settings.k)]
    build_s = time.perf_counter() - t_build if baselines else None
    labels = {s.label for s in systems}
    for label, s in compare:
        if label in labels:
            raise EvalSetError(f"compare label {label!r} is used twice; give each compared system its own name")
        labels.add(label)
        s = s if sl is None else prepare_slice(s, sl, progress=progress)
        systems.append(_System(label, "compare", s, assistant=Assistant.from_settings(s)))
    return systems, build_s


def _score(run: SetRun, texts: dict[str, str], settings: Settings, judge, progress: bool) -> None:
    """Ask every system every item of `run` and append the scored rows to each system."""
    from tqdm.auto import tqdm

    desc = "eval" if run.slice is None else f"eval {run.name}"
    for it in tqdm(run.items, desc=desc, unit="item", disable=not progress):
        for sysm in run.systems:
            raw = _ask_baseline(sysm, it) if sysm.kind == "baseline" else _ask_ours(sysm, it)
            k = sysm.settings.k if sysm.settings else settings.k
            scored = score_item(it, raw, texts, k, sysm.settings.min_support if sysm.settings else None)
            if judge is not None and sysm.kind != "baseline" and not raw["refused"] and raw["answer"]:
                try:
                    scored["faithfulness"] = faithfulness(judge, raw["answer"], [c["quote"] for c in raw["citations"]])
                except Exception as exc:  # endpoint errors: fail loudly, naming the endpoint
                    endpoint = settings.llm_base_url or "OpenAI"
                    raise GenerationError(f"LLM judge call to {endpoint} failed: {exc}") from exc
            row = {"slice": run.name, "id": it.id, "kind": it.kind, "lang": it.lang, "question": it.question,
                   "system": sysm.label, "expected": [list(g) for g in it.answers], "answer": raw["answer"],
                   "refused": raw["refused"], "citations": raw["citations"], **scored,
                   "latency_ms": round(raw["latency_ms"], 1)}
            for extra in ("support", "reason", "mode"):
                if extra in raw:
                    row[extra] = raw[extra]
            sysm.rows.append(row)


def _run_set(run: SetRun, settings: Settings, compare: list[tuple[str, Settings]], baselines: bool, judge,
             progress: bool) -> None:
    """Index (a slice: stage and index its documents beside the five plans), check the gold, then score."""
    from .assistant import Assistant

    t0 = time.perf_counter()
    run_settings = settings if run.slice is None else prepare_slice(settings, run.slice, progress=progress)
    ours = Assistant.from_settings(run_settings, progress=progress and run.slice is not None)
    run.index_dir = run_settings.index_dir
    texts = {d.source: ours.index.document(d.doc_id).text for d in ours.index.catalog.values()}
    run.documents = sorted(texts)
    _check_gold(run, texts, settings.documents_dir)
    run.systems, run.baseline_build_seconds = _systems(ours, run_settings, compare, baselines, run.slice, progress)
    _score(run, texts, run_settings, judge, progress)
    for s in run.systems:  # the rows are what is reported; let this set's indexes go before the next set's
        s.assistant = s.baseline = None
    run.seconds = time.perf_counter() - t0


def run_eval(settings: Settings, *, set_path: Path = DEFAULT_SET, out_dir: Path | None = None,
             compare: list[tuple[str, Settings]] | None = None, baselines: bool = True, limit: int | None = None,
             ids: list[str] | None = None, progress: bool = True, llm_judge: bool = False,
             slices: Sequence[EvalSlice] = (), main: bool = True) -> dict:
    """Score policy-rag on the eval set (plus baselines and `compare` systems); return the metrics dict.

    `slices` (see rag.eval_slices) are scored the same way, each on its own index of the five plans plus the
    slice's documents, and reported under metrics["slices"][name]; `main=False` skips the main set (its
    top-level keys then report 0 items). `limit` applies to each set; `ids` picks items from any set.
    With `out_dir`: also write report.md, metrics.json, results.jsonl and accuracy_by_kind*.png there.
    """
    t_start = time.perf_counter()
    if len({sl.name for sl in slices} | {"main"}) != len(slices) + 1:
        raise EvalSetError(f"slice names must be unique and not 'main' (got {', '.join(s.name for s in slices)})")
    # Validate every set before running anything.
    runs = ([SetRun("main", Path(set_path), load_set(set_path))] if main else []) \
        + [SetRun(sl.name, sl.set_path, load_set(sl.set_path), slice=sl) for sl in slices]
    if not runs:
        raise EvalSetError("nothing to evaluate: the main set is skipped and no slice was given")
    runs = _select(runs, ids, limit)
    judge = _judge(settings) if llm_judge else None
    for run in runs:
        _run_set(run, settings, list(compare or []), baselines, judge, progress)

    main_run = next((r for r in runs if r.slice is None), None)
    head = main_run.metrics(settings) if main_run else {"set": None, "items": 0, "baseline_build_seconds": None,
                                                         "systems": {}}
    metrics = {
        "set": head["set"], "items": head["items"],
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - t_start, 1),
        "baseline_build_seconds": head["baseline_build_seconds"],
        "llm_judge": bool(llm_judge),
        "systems": head["systems"],
        "slices": {r.name: {**r.metrics(settings), "documents_dir": str(r.slice.documents_dir),
                            "index_dir": str(r.index_dir), "indexed_documents": r.documents}
                   for r in runs if r.slice is not None},
    }
    if out_dir is not None:
        write_outputs(Path(out_dir), metrics, runs, settings, compare or [], limit=limit, ids=ids,
                      baselines=baselines, llm_judge=llm_judge, default_set=DEFAULT_SET)
    return metrics
