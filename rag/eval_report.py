"""Eval report writer: the headline Markdown table, report.md, metrics.json, results.jsonl and the plot.

`format_table(metrics)` renders the headline table (one row per system) from `run_eval`'s metrics dict;
`write_outputs` writes a run's files into its output folder, including the exact settings used and the
command that reproduces the run; `plot_accuracy` draws accuracy_by_kind.png with matplotlib.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any, Iterable, Sequence

from .eval_metrics import KINDS, LANGS, OURS, EvalItem
from .settings import REPO_ROOT, Settings

__all__ = ["format_table", "plot_accuracy", "write_outputs"]


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
               llm_judge, default_set: Path) -> str:
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
        if Path(set_path).resolve() != default_set.resolve():
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
    if Path(set_path).resolve() != default_set.resolve():
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


def write_outputs(out_dir: Path, metrics: dict, systems: Sequence[Any], items: list[EvalItem], settings: Settings,
                  compare: list, set_path: Path, limit, ids, baselines: bool, llm_judge: bool, *,
                  default_set: Path) -> None:
    """Write report.md, metrics.json, results.jsonl, accuracy_by_kind.png and settings/ into `out_dir`, and add
    the reproducing command to `metrics` as "command". `systems` are the run's systems (each with label, kind
    "ours" | "baseline" | "compare", settings and scored rows); `default_set` is the set `rag eval` reads
    when given no --set."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = _reproduce(out_dir, settings, compare, set_path, limit, ids, baselines, llm_judge, default_set)
    metrics["command"] = command
    with (out_dir / "results.jsonl").open("w", encoding="utf-8") as f:
        for s in systems:
            for row in s.rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    plot_accuracy(out_dir / "accuracy_by_kind.png", metrics)

    ours = next(s for s in systems if s.kind == "ours")
    failures = [r for r in ours.rows if r["failure"]]
    md = ["# policy-rag eval report", "",
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
