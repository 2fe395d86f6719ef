"""Eval report writer: the headline Markdown table, report.md, metrics.json, results.jsonl and the plots.

`format_table(metrics)` renders the headline table (one row per system, one block of rows per set when the
run has slices) from `run_eval`'s metrics dict; `write_outputs` writes a run's files into its output folder,
with a section per slice, the exact settings used and the command that reproduces the run; `plot_accuracy`
draws accuracy_by_kind.png (and accuracy_by_kind-<slice>.png per slice) with matplotlib.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
from pathlib import Path
from typing import Any, Iterable, Sequence

from .eval_metrics import KINDS, LANGS, OURS
from .eval_slices import slice_spec
from .locations import report_root
from .settings import Settings

__all__ = ["format_table", "plot_accuracy", "write_outputs"]

log = logging.getLogger(__name__)


def _f(x: float | None, pct: bool = True) -> str:
    if x is None:
        return "–"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.0f}"


def _headline_rows(systems: dict, judge: bool, lead: list[str]) -> list[str]:
    lines = []
    for label, s in systems.items():
        o = s["overall"]
        cells = lead + [f"{label} (k={s['k']})" if s["role"] != "baseline" else label,
                        _f(o["answer_accuracy"]), _f(o["citation_accuracy"]), _f(o["offset_validity"]),
                        _f(o["refusal_precision"]), _f(o["refusal_recall"]), _f(o["groundedness"]),
                        _f(o["recall_at_k"]), _f(o["mrr"], pct=False), _ms(o["latency_p50_ms"]),
                        _ms(o["latency_p95_ms"])]
        if judge:
            cells.append(_f(o.get("faithfulness")))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _set_blocks(metrics: dict) -> list[tuple[str, int, dict]]:
    """(set name, items, systems) for the main set (when it ran) and each slice, in report order."""
    blocks = [("main", metrics["items"], metrics["systems"])] if metrics.get("systems") else []
    return blocks + [(name, sl["items"], sl["systems"]) for name, sl in (metrics.get("slices") or {}).items()]


def format_table(metrics: dict) -> str:
    """The headline Markdown table: one row per system. When the run has slices, a leading "set" column and
    one block of rows per set (the main set, then each slice)."""
    blocks = _set_blocks(metrics)
    judge = any("faithfulness" in s["overall"] for _, _, systems in blocks for s in systems.values())
    with_set = bool(metrics.get("slices"))
    head = (["set"] if with_set else []) + [
        "system", "answer acc", "citation acc", "offset validity", "refusal P", "refusal R", "groundedness",
        "recall@k", "MRR", "p50 ms", "p95 ms"] + (["faithfulness (LLM)"] if judge else [])
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---" if i <= int(with_set) else "---:" for i in range(len(head))) + "|"]
    for name, n, systems in blocks:
        lines += _headline_rows(systems, judge, [f"{name} (n={n})"] if with_set else [])
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


def _rel(p: Path) -> str:
    p = Path(p).resolve()
    try:
        return str(p.relative_to(report_root()))
    except ValueError:
        return str(p)


def _reproduce(out_dir: Path, settings: Settings, compare: list, runs: Sequence[Any], limit, ids, baselines,
               llm_judge, default_set: Path) -> str:
    """Write the exact settings used under out_dir/settings/ and return the command that re-runs this eval:
    a `rag eval` command line, or a `python -c` one when the run picked items by id or used a slice that
    `--slice` cannot name."""
    sdir = out_dir / "settings"
    sdir.mkdir(parents=True, exist_ok=True)

    def dump(name: str, s: Settings) -> Path:
        values = {k: v for k, v in s.to_dict().items() if k != "llm_api_key"}
        p = sdir / f"{name}.json"
        p.write_text(json.dumps(values, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return p

    base = dump(OURS, settings)
    cmp_files = [dump(re.sub(r"[^\w.\-]+", "_", label), s) for label, s in compare]
    main = next((r for r in runs if r.slice is None), None)
    set_path = main.set_path if main is not None else default_set
    slices = [r.slice for r in runs if r.slice is not None]
    specs = [slice_spec(sl) for sl in slices]
    if ids is not None or None in specs:
        q = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731  (double quotes: no clash with the shell's)
        args = [f"Settings.load({q(_rel(base))})", f"out_dir=Path({q(_rel(out_dir))})"]
        if Path(set_path).resolve() != default_set.resolve():
            args.append(f"set_path=Path({q(_rel(set_path))})")
        if compare:
            pairs = q([[lb, _rel(p)] for (lb, _), p in zip(compare, cmp_files)])
            args.append(f"compare=[(lb, Settings.load(p)) for lb, p in {pairs}]")
        if slices:
            made = ", ".join(f"EvalSlice({q(sl.name)}, Path({q(_rel(sl.set_path))}), "
                             f"Path({q(_rel(sl.documents_dir))}), sealed={sl.sealed})" for sl in slices)
            args.append(f"slices=[{made}]")
        args += ([f"ids={q(list(ids))}"] if ids is not None else []) + (["main=False"] if main is None else []) \
            + ([f"limit={limit}"] if limit else []) + ([] if baselines else ["baselines=False"]) \
            + (["llm_judge=True"] if llm_judge else [])
        code = ("from pathlib import Path; from rag import Settings; from rag.evaluation import EvalSlice, run_eval; "
                f"run_eval({', '.join(args)})")
        return f"python -c {shlex.quote(code)}"
    cmd = ["rag", "eval", "--settings", _rel(base), "--out", _rel(out_dir)]
    if Path(set_path).resolve() != default_set.resolve():
        cmd += ["--set", _rel(set_path)]
    if compare:
        cmd += ["--compare", *(_rel(p) for p in cmp_files)]
    if not slices:
        cmd.append("--no-slices")
    for spec in specs:
        cmd += ["--slice", spec]
    if main is None:
        cmd.append("--slices-only")
    if limit:
        cmd += ["--limit", str(limit)]
    if not baselines:
        cmd.append("--no-baselines")
    if llm_judge:
        cmd.append("--llm-judge")
    return shlex.join(cmd)


def plot_accuracy(path: Path, metrics: dict) -> None:
    """Answer and citation accuracy by question kind, one bar per system, saved as a PNG at `path`."""
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


def _plot_name(run: Any) -> str:
    return "accuracy_by_kind.png" if run.slice is None else f"accuracy_by_kind-{run.name}.png"


def _failures(rows: list[dict], sealed: bool) -> list[str]:
    """Markdown bullets for policy-rag's failed items. A sealed slice lists ids and stages only: its questions
    and answers are not shown where someone tuning the system would read them."""
    md = []
    for r in rows:
        if sealed:
            md.append(f"- **{r['id']}** ({r['kind']}, {r['lang']}) failed at: {r['failure'].split(':', 1)[0]}")
            continue
        exp = " + ".join("/".join(g) for g in r["expected"]) or "(refusal)"
        ans = r["answer"].replace("\n", " ")
        ans = ans[:120] + ("…" if len(ans) > 120 else "")
        md += [f"- **{r['id']}** ({r['kind']}, {r['lang']}) {r['question']}",
               f"  - expected: {exp}",
               f"  - answer: {ans}",
               f"  - failure: {r['failure']}"]
    return md or ["None."]


def _slice_section(run: Any, m: dict) -> list[str]:
    """A slice's own section of report.md: where its documents and index are, headline, kinds, languages,
    failures."""
    sl = run.slice
    ours = next(s for s in run.systems if s.kind == "ours")
    failures = [r for r in ours.rows if r["failure"]]
    md = [f"## Slice `{run.name}`", "",
          f"{m['items']} items from `{_rel(sl.set_path)}`, scored in {m['seconds']} s on the index at "
          f"`{_rel(run.index_dir)}`: the plans of `{_rel(sl.documents_dir)}` plus the main documents "
          f"({len(run.documents)} documents)"
          + (f"; baseline indexes built in {m['baseline_build_seconds']} s." if m["baseline_build_seconds"] else ".")
          + (" **Sealed**: reported, never tuned on; failures are listed by id only." if sl.sealed else ""), "",
          f"### Headline ({run.name})", "", format_table(m), "",
          f"![Accuracy by kind ({run.name})]({_plot_name(run)})", "",
          f"### By question kind ({run.name}, answer accuracy / citation accuracy)", "",
          _group_table(m, "by_kind", KINDS), "",
          f"### By language ({run.name}, answer accuracy / citation accuracy)", "",
          _group_table(m, "by_lang", LANGS), "",
          f"### Failures ({run.name}: {len(failures)} of {len(ours.rows)} items, {OURS})", ""]
    return md + _failures(failures, sl.sealed) + [""]


def write_outputs(out_dir: Path, metrics: dict, runs: Sequence[Any], settings: Settings, compare: list, *,
                  limit: int | None, ids: list[str] | None, baselines: bool, llm_judge: bool,
                  default_set: Path) -> None:
    """Write report.md, metrics.json, results.jsonl, the accuracy plots and settings/ into `out_dir`, and add
    the reproducing command to `metrics` as "command". `runs` are the run's sets (`rag.evaluation.SetRun`:
    name, set_path, slice, index_dir, documents and systems, each with label, kind "ours" | "baseline" |
    "compare", settings and scored rows); `default_set` is the set `rag eval` reads when given no --set."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = _reproduce(out_dir, settings, compare, runs, limit, ids, baselines, llm_judge, default_set)
    metrics["command"] = command
    with (out_dir / "results.jsonl").open("w", encoding="utf-8") as f:
        for run in runs:
            for s in run.systems:
                for row in s.rows:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    try:
        for run in runs:
            plot_accuracy(out_dir / _plot_name(run), metrics if run.slice is None else metrics["slices"][run.name])
    except ImportError:  # the figures are in report.md and metrics.json either way
        log.warning("matplotlib is not installed: no plots (pip install 'policy-rag[eval]')")

    main = next((r for r in runs if r.slice is None), None)
    slices = [r for r in runs if r.slice is not None]
    sets = ([f"{metrics['items']} items from `{_rel(main.set_path)}`"] if main else []) \
        + [f"{metrics['slices'][r.name]['items']} items from slice `{r.name}`" for r in slices]
    md = ["# policy-rag eval report", "",
          f"{', '.join(sets)}, run {metrics['created_at']} in {metrics['seconds']} s"
          + (f" (baseline indexes built in {metrics['baseline_build_seconds']} s)"
             if baselines and metrics["baseline_build_seconds"] is not None else "") + ".",
          "Metric definitions and slices: `eval/README.md`.", "", "## Headline", "", format_table(metrics), ""]
    if main is not None:
        md += ["![Accuracy by kind](accuracy_by_kind.png)", "",
               "## By question kind (answer accuracy / citation accuracy)", "",
               _group_table(metrics, "by_kind", KINDS), "",
               "## By language (answer accuracy / citation accuracy)", "",
               _group_table(metrics, "by_lang", LANGS), ""]
    for run in slices:
        md += _slice_section(run, metrics["slices"][run.name])
    md += ["## Settings", ""]
    for s in runs[0].systems:
        if s.settings is not None:
            md += [f"`{s.label}`:", "", "```json", json.dumps(s.settings.to_dict(), ensure_ascii=False, indent=2),
                   "```", ""]
    if slices:
        md += ["Each slice runs the same settings with `documents_dir` and `index_dir` pointing at its own staged "
               "documents and index (see the slice sections).", ""]
    if baselines:
        md += ["Baselines (see `rag/baselines.py`): **LangChain tutorial RAG** = RecursiveCharacterTextSplitter(500/50) + "
               "InMemoryVectorStore, top-1 chunk; **Chatchat-style hybrid** = Chinese recursive splitter (250/50), "
               "jieba BM25 + dense, min-max fused 0.5/0.5, top-1 chunk. Same embedder as policy-rag, no refusal.", ""]
    md += ["## Reproduce", "", "```", command, "```", ""]
    if main is not None:
        ours = next(s for s in main.systems if s.kind == "ours")
        failures = [r for r in ours.rows if r["failure"]]
        md += [f"## Failures ({len(failures)} of {len(ours.rows)} items, {OURS})", ""] + _failures(failures, False)
    (out_dir / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")
