"""The Eval tab: run the eval set from the UI and show its metrics as a table."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ..assistant import Assistant
from ..errors import PolicyRagError
from .render import render_status as _status

__all__ = ["metrics_rows", "metrics_table", "run_evaluation", "METRIC_COLUMNS"]

# ---------------------------------------------------------------------------------------------- eval

def _flatten(prefix: str, value: Any, rows: list[list[Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, rows)
    elif isinstance(value, (int, float, str, bool)) or value is None:
        if isinstance(value, float):
            value = round(value, 4)
        rows.append([prefix, "" if value is None else value])
    elif isinstance(value, (list, tuple)) and len(value) <= 8 and all(
            isinstance(v, (int, float, str)) for v in value):
        rows.append([prefix, ", ".join(str(v) for v in value)])


def metrics_rows(metrics: dict) -> list[list[Any]]:
    """Any metrics dict as [name, value] rows (nested keys dotted); the fallback view."""
    rows: list[list[Any]] = []
    _flatten("", {k: v for k, v in metrics.items() if k not in {"items", "results", "per_item"}}, rows)
    return rows


METRIC_COLUMNS = [("n", "n"), ("answer_accuracy", "answer acc"), ("citation_accuracy", "citation acc"),
                  ("offset_validity", "offset validity"), ("refusal_precision", "refusal P"),
                  ("refusal_recall", "refusal R"), ("groundedness", "groundedness"), ("recall_at_k", "recall@k"),
                  ("mrr", "MRR"), ("latency_p50_ms", "p50 ms"), ("latency_p95_ms", "p95 ms")]


def metrics_table(metrics: dict) -> dict:
    """The eval metrics as a table value for gr.Dataframe ({"headers", "data"}): one row per system and slice
    (overall, each question kind, each language) when the dict has run_eval's "systems" layout, else name/value."""
    systems = metrics.get("systems") if isinstance(metrics, dict) else None
    if not isinstance(systems, dict) or not systems:
        return {"headers": ["metric", "value"], "data": metrics_rows(metrics or {}) or [["", ""]]}

    def fmt(key: str, v: Any) -> Any:
        if v is None:
            return "–"
        if key in {"n", "citations"}:
            return v
        if key.startswith("latency"):
            return round(v, 1) if isinstance(v, (int, float)) else v
        return f"{100 * v:.1f}%" if isinstance(v, (int, float)) and key != "mrr" else round(v, 3)

    data = []
    for name, sysm in systems.items():
        if not isinstance(sysm, dict):
            continue
        slices = [("overall", sysm.get("overall") or {})]
        slices += [(f"kind: {k}", v) for k, v in (sysm.get("by_kind") or {}).items()]
        slices += [(f"lang: {k}", v) for k, v in (sysm.get("by_lang") or {}).items()]
        for label, m in slices:
            if isinstance(m, dict):
                data.append([name, label, *[fmt(key, m.get(key)) for key, _ in METRIC_COLUMNS]])
    return {"headers": ["system", "slice", *[h for _, h in METRIC_COLUMNS]], "data": data or [["", ""]]}


def run_evaluation(assistant: Assistant, limit: float | int | None = 0, ids: str = "", baselines: bool = False,
                   progress: Any = None) -> tuple[str, dict, str | None, str]:
    """Eval callback: (status html, metrics table {"headers", "data"}, plot path or None, report.md as text)."""
    try:
        from ..evaluation import run_eval
    except ImportError as exc:
        msg = f"eval runner not available (rag.evaluation could not be imported: {exc})"
        return _status(False, msg), metrics_table({}), None, ""
    id_list = [i for i in re.split(r"[\s,，]+", ids or "") if i]
    out_dir = Path(tempfile.mkdtemp(prefix="policy-rag-eval-"))
    if progress is not None:
        try:
            progress(0, desc="running the eval set…")
        except Exception:  # noqa: BLE001 - progress is cosmetic
            pass
    started = time.perf_counter()
    try:
        result = run_eval(assistant.settings, out_dir=out_dir, baselines=bool(baselines),
                          limit=int(limit) if limit else None, ids=id_list or None, progress=True)
    except (PolicyRagError, ValueError, OSError, KeyError, ImportError) as exc:
        shutil.rmtree(out_dir, ignore_errors=True)
        return _status(False, f"eval failed: {exc}"), metrics_table({}), None, ""
    took = time.perf_counter() - started
    metrics: dict = {}
    mpath = out_dir / "metrics.json"
    if mpath.is_file():
        try:
            metrics = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            metrics = {}
    if not metrics and isinstance(result, dict):
        metrics = result
    plot_path = out_dir / "accuracy_by_kind.png"
    report = out_dir / "report.md"
    report_text = report.read_text(encoding="utf-8") if report.is_file() else ""
    # The plot is handed to Gradio as an image, not a path, so the run's folder can go now instead of
    # piling up in the temp dir (`rag eval --out DIR` keeps the files).
    plot = None
    if plot_path.is_file():
        from PIL import Image

        with Image.open(plot_path) as img:
            plot = img.copy()
    shutil.rmtree(out_dir, ignore_errors=True)
    msg = f"eval finished in {took:.1f} s; to keep the report and plots run `rag eval --out DIR`"
    return _status(True, msg), metrics_table(metrics), plot, report_text
