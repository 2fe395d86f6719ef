"""Scale benchmark: build an index of N synthetic chunks, then time loading, retrieval, full answers and
per-document writes, on the local backend or on Milvus Lite.

    python benchmarks/scale.py --chunks 100000 --out benchmarks/results/scale-local-100000.json
    python benchmarks/scale.py --chunks 100000 --backend milvus --out benchmarks/results/scale-milvus-100000.json
    python benchmarks/scale_plot.py            # the log-log plot and README table of benchmarks/results/

The corpus (benchmarks/scale_corpus.py): plans of ~50-200 chunks of realistic Chinese plan text (the real
plans' sentences recombined under place names of the gazetteer, with titles, years, kinds and the metadata
the filters read). The VECTORS ARE SYNTHETIC (perturbed copies of the five-plan index's e5 vectors, seeded):
embedding a million chunks and their ~8 million clauses at ~35 texts/s would take days. By default questions
are embedded for real by the local e5 model (--query-vectors e5), as a user's question would be.

Steps, each in its own process so memory and load time are those of a fresh process:
  1. build: generate the corpus and build the index (rag.stores.local_write.build_index_from_vectors, or
     rag.stores.milvus_write.build_milvus_index into a Milvus Lite .db file) -> build_s, build_rss_mb
  2. measure: open the index (load_s), then for --questions questions naming places and years:
     retrieve_*: rag.retrieval.retrieve as the Assistant calls it (query analysis, place plan and document
       filter done first, untimed; the query vector embedded first, untimed) -> retrieve_p50_ms / p95;
       retrieve_all_*: the same searches over the whole corpus (no document filter), the stress case;
     ask_*: Assistant.ask(question), the full answer (query embedding included) -> ask_p50_ms / p95;
     add_document_s / remove_document_s: one new plan of ~100 chunks through rag.stores.backends.update_store
       (the path uploads take) with its synthetic vectors (embedding excluded), then removed;
     rss_mb: peak RSS of the measuring process plus that of its children (the Milvus Lite server), which
       counts the pages of the memory-mapped index it touched; rss_end_anon_mb / rss_end_file_mb split the RSS
       at the end into anonymous memory and those file pages (page cache the kernel can reclaim).
Written as one JSON object: chunks, build_s, disk_mb, rss_mb, load_s, retrieve_p50_ms, retrieve_p95_ms,
ask_p50_ms, ask_p95_ms, add_document_s, remove_document_s, backend, plus the extra keys documented in the
README's "Scale" section (documents, clauses, build_rss_mb, retrieve_all_*, first_answer_s, machine, ...).
Timings are of a shared machine: the JSON records the load average (1, 5, 15 min) before and after the
measure step (load_average) and before and after the build (build_load_average). With --keep the build's
figures are saved in the work folder (build.json), and --reuse-build measures that index again without
rebuilding it (the measure step's add and remove leave the same documents).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `rag` does: two OpenMP runtimes spinning on 2 cores
BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

KEYS = ("chunks", "build_s", "disk_mb", "rss_mb", "load_s", "retrieve_p50_ms", "retrieve_p95_ms", "ask_p50_ms",
        "ask_p95_ms", "add_document_s", "remove_document_s", "backend")
ADDED_ID = "scale-added"


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def peak_rss_mb() -> float:
    """Peak RSS of this process plus the peaks of its live children (Milvus Lite runs a server process)."""
    mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    me = str(os.getpid())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            status = (proc / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == me and "VmHWM" in fields:
            mb += int(fields["VmHWM"].split()[0]) / 1024
    return mb


def rss_parts_mb() -> tuple[float, float]:
    """(anonymous, file-backed) resident memory now, of this process and its children: the file-backed part is
    the memory-mapped index's pages in the page cache (the kernel drops them under memory pressure)."""
    me, anon, file = str(os.getpid()), 0.0, 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if proc.name == me or fields.get("PPid", "").strip() == me:
            anon += int(fields.get("RssAnon", "0 kB").split()[0]) / 1024
            file += int(fields.get("RssFile", "0 kB").split()[0]) / 1024
    return anon, file


def size_mb(*paths: Path) -> float:
    total = 0
    for path in paths:
        if path.is_file():
            total += path.stat().st_size
        elif path.is_dir():
            total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 2**20


def _where(work: Path) -> tuple[Path, str]:
    """(index folder, Milvus Lite URI) inside the work folder."""
    return work / "index", str(work / "index.milvus.db")


# ---------------------------------------------------------------- step 1: build (its own process)


def build(args) -> dict:
    from scale_corpus import SyntheticEmbedder, make_documents

    index_dir, uri = _where(args.work)
    t0 = time.perf_counter()
    documents = make_documents(args.chunks, seed=args.seed)
    corpus_s = time.perf_counter() - t0
    embedder = SyntheticEmbedder()
    t0 = time.perf_counter()
    log = (args.work / "build-progress.log").open("a", encoding="utf-8")
    done = 0

    def vectors(texts: list[str]):
        """The synthetic vectors, with a line of progress per batch the builder asks for (to extrapolate)."""
        nonlocal done
        done += len(texts)
        log.write(f"{time.perf_counter() - t0:.1f} s: {done} texts given vectors (~{args.chunks * 8.4:.0f} expected)\n")
        log.flush()
        return SyntheticEmbedder.vectors(embedder, texts)

    embedder.vectors = vectors
    if args.backend == "local":
        from rag.stores.local_write import build_index_from_vectors

        stats = build_index_from_vectors(documents, embedder.vectors, embedder.info, index_dir)
    else:
        from rag.stores.milvus_write import build_milvus_index

        store, stats = build_milvus_index(documents, embedder, uri=uri, index_dir=index_dir, progress=False,
                                          rebuild=True)
        store.index.client.close()
    return {"build_s": round(time.perf_counter() - t0, 2), "corpus_s": round(corpus_s, 2),
            "documents": stats["documents"], "chunks": stats["chunks"], "clauses": stats["clauses"],
            "build_rss_mb": round(peak_rss_mb()), "vectors": f"synthetic: {embedder.kind}"}


# ---------------------------------------------------------------- step 2: measure (a fresh process)


def _retrieval_inputs(assistant, question: str):
    """What the Assistant hands retrieve() for a question's first place: (query, allowed documents) or None."""
    from rag.planner import plan_question
    from rag.query import analyse_query, without_title_words
    from rag.retrieval import eligible_documents, preferred_documents

    snap = assistant._snapshot
    index = snap.index
    query = analyse_query(question, snap.catalog, index.tokenizer, index.bridge)
    plan = plan_question(query, snap.catalog, None)
    for sub in plan.subquestions:
        q = query.for_city(sub.place)
        allowed = eligible_documents(index, q, sub.docs)
        if allowed:
            allowed = preferred_documents(index, q, allowed)
            q = without_title_words(q, [index.catalog[d].metadata.title or "" for d in allowed])
            return q, set(allowed)
    return None


def measure(args) -> dict:
    t_start = time.perf_counter()
    from rag.assistant import Assistant
    from rag.retrieval import retrieve
    from rag.settings import Settings
    from rag.stores.backends import update_store
    from rag.tokenize import _default_jieba
    from scale_corpus import INFO, SyntheticEmbedder, make_document, questions_for

    _default_jieba()  # jieba's own dictionary (~0.5 s, once per process, whatever the index size)
    imports_s = time.perf_counter() - t_start
    index_dir, uri = _where(args.work)
    t0 = time.perf_counter()
    if args.backend == "local":
        from rag.stores.local import load_index

        store = load_index(index_dir, expected_embedder=INFO)
    else:
        from rag.stores.milvus import open_milvus_store

        store = open_milvus_store(uri, index_dir, expected_embedder=INFO)
    load_s = time.perf_counter() - t0
    rss_load = peak_rss_mb()
    synthetic = SyntheticEmbedder()
    if args.query_vectors == "e5":
        from rag.encoders import load_encoder

        embedder = load_encoder(INFO.name)
    else:
        embedder = synthetic
    settings = Settings(index_dir=index_dir, documents_dir=args.work / "documents", vector_store=args.backend,
                        milvus_uri=uri)
    assistant = Assistant(settings, embedder, store)
    questions = questions_for(store.catalog, args.questions, seed=args.seed + 1)
    t0 = time.perf_counter()
    assistant.ask(questions[0])  # the first answer loads jieba's tagger tables, pinyin, ...
    first_answer_s = time.perf_counter() - t0
    for q in questions[1:6]:
        assistant.ask(q)

    inputs = [(q, _retrieval_inputs(assistant, q)) for q in questions]
    vectors, t_embed = {}, []
    for q in questions:
        t = time.perf_counter()
        vectors[q] = embedder.embed_queries([q])[0]
        t_embed.append((time.perf_counter() - t) * 1000)
    t_filtered, t_all, answered = [], [], 0
    for q, got in inputs:
        if got is None:
            continue
        query, allowed = got
        t = time.perf_counter()
        retrieve(store, query, vectors[q], k=settings.k, fetch_k=settings.fetch_k, allowed=allowed)
        t_filtered.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        retrieve(store, query, vectors[q], k=settings.k, fetch_k=settings.fetch_k, allowed=None)
        t_all.append((time.perf_counter() - t) * 1000)
    t_ask = []
    for q in questions:
        t = time.perf_counter()
        answer = assistant.ask(q)
        t_ask.append((time.perf_counter() - t) * 1000)
        answered += bool(answer.citations)

    doc = make_document(ADDED_ID, 100, seed=args.seed + 7)
    t0 = time.perf_counter()
    added, add_stats = update_store(store, synthetic, add=[doc])
    add_s = time.perf_counter() - t0
    added_chunks = len(added.chunks_of(ADDED_ID))
    t0 = time.perf_counter()
    removed, _ = update_store(added, synthetic, remove=[ADDED_ID])
    remove_s = time.perf_counter() - t0
    assert ADDED_ID in added.catalog and ADDED_ID not in removed.catalog
    rss = peak_rss_mb()
    anon, file = rss_parts_mb()
    if args.backend == "milvus":
        store.index.client.close()
    return {
        "load_s": round(load_s, 3), "imports_s": round(imports_s, 2), "rss_after_load_mb": round(rss_load),
        "first_answer_s": round(first_answer_s, 2),
        "retrieve_p50_ms": round(percentile(t_filtered, 0.5), 2), "retrieve_p95_ms": round(percentile(t_filtered, 0.95), 2),
        "retrieve_all_p50_ms": round(percentile(t_all, 0.5), 2), "retrieve_all_p95_ms": round(percentile(t_all, 0.95), 2),
        "ask_p50_ms": round(percentile(t_ask, 0.5), 2), "ask_p95_ms": round(percentile(t_ask, 0.95), 2),
        "query_embedding_p50_ms": round(percentile(t_embed, 0.5), 2),
        "questions": len(questions), "questions_retrieved": len(t_filtered), "questions_answered": answered,
        "add_document_s": round(add_s, 3), "remove_document_s": round(remove_s, 3), "added_chunks": added_chunks,
        "rss_mb": round(rss), "rss_end_anon_mb": round(anon), "rss_end_file_mb": round(file), "query_vectors": "e5 (real, local model)" if args.query_vectors == "e5" else
        "synthetic", "ann": _ann(store),
    }


def _ann(store) -> object:
    """The dense index the store chose (recorded in its manifest)."""
    m = store.manifest
    if "dense_index" in m:
        return m["dense_index"].get("type")
    return sorted({str(s.get("ann", {}).get("type", s.get("ann"))) for s in m.get("segments", [])}) or None


# ---------------------------------------------------------------- driver


def _tree_rss_mb(pid: int) -> float:
    """Current RSS of a process and its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, float] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line)
            except OSError:
                continue
            parents[int(proc.name)] = int(fields.get("PPid", "0").strip() or 0)
            rss[int(proc.name)] = int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
    tree, grew = {pid}, True
    while grew:
        more = {p for p, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(rss.get(p, 0.0) for p in tree)


def _step(step: str, args) -> dict:
    """Run one step in a fresh process; stop it if it grows past --max-rss-mb (the machine is shared)."""
    cmd = [sys.executable, __file__, "--chunks", str(args.chunks), "--backend", args.backend, "--work", str(args.work),
           "--questions", str(args.questions), "--query-vectors", args.query_vectors, "--seed", str(args.seed),
           "--step", step]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, _tree_rss_mb(proc.pid))
            if peak > args.max_rss_mb:
                for pid in sorted(_descendants(proc.pid), reverse=True) + [proc.pid]:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                proc.wait()
                raise SystemExit(f"scale.py: the {step} step passed --max-rss-mb {args.max_rss_mb} and was stopped")
            time.sleep(1.0)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.stderr.write(err.read()[-5000:])
            raise SystemExit(f"scale.py: the {step} step failed (exit {proc.returncode})")
        return json.loads(out.read().strip().splitlines()[-1])


def _descendants(pid: int) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out += [int(proc.name)] + _descendants(int(proc.name))
    return out


def _code_version() -> str:
    """The commit measured, and whether rag/ had uncommitted changes (other work in progress) at the time."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "rag"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes in rag/" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, required=True, help="about how many chunks the synthetic corpus has")
    parser.add_argument("--out", type=Path, help="write the figures as one JSON object here (else print them)")
    parser.add_argument("--backend", choices=("local", "milvus"), default="local",
                        help="local index folder, or Milvus Lite (a .db file in the work folder)")
    parser.add_argument("--work", type=Path, help="where the index is built (default: a folder under /tmp, "
                        "deleted afterwards unless --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the built index in --work")
    parser.add_argument("--reuse-build", action="store_true",
                        help="measure again the index a run with --keep built in --work (its build figures are read "
                        "from --work/build.json), e.g. when the machine was busy during the first measurement")
    parser.add_argument("--questions", type=int, default=100, help="questions timed (default 100)")
    parser.add_argument("--query-vectors", choices=("e5", "synthetic"), default="e5",
                        help="embed questions with the local e5 model (default) or use synthetic vectors")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-rss-mb", type=int, default=8000,
                        help="stop a step whose processes hold more memory than this (default 8000; shared machine)")
    parser.add_argument("--step", choices=("build", "measure"), help=argparse.SUPPRESS)  # a child's job
    args = parser.parse_args(argv)
    if args.step:
        print(json.dumps(build(args) if args.step == "build" else measure(args), ensure_ascii=False))
        return 0

    if args.reuse_build:
        record = args.work / "build.json" if args.work else None
        if record is None or not record.is_file():
            parser.error("--reuse-build needs --work, a folder where a run with --keep built an index (build.json)")
        built = json.loads(record.read_text(encoding="utf-8"))
        if (built.get("target_chunks"), built.get("backend"), built.get("seed")) != (args.chunks, args.backend, args.seed):
            parser.error(f"{record} is a build of --chunks {built.get('target_chunks')} --backend "
                         f"{built.get('backend')} --seed {built.get('seed')}: give the same options")
        args.keep = True  # what is re-used is kept
    temporary = args.work is None
    args.work = args.work or Path(f"/tmp/policy-rag-scale-{os.getpid()}") / f"{args.backend}-{args.chunks}"
    if not args.reuse_build:
        if args.work.exists():
            shutil.rmtree(args.work)
        args.work.mkdir(parents=True)
    load_before = os.getloadavg()
    try:
        if not args.reuse_build:
            built = _step("build", args)
            index_dir, uri = _where(args.work)
            # the measure step's add and remove leave the same documents, so the index can be measured again
            built.update(disk_mb=round(size_mb(index_dir, Path(uri)), 1), target_chunks=args.chunks,
                         backend=args.backend, seed=args.seed,
                         build_load_average=[round(x, 2) for x in load_before + os.getloadavg()],
                         build_date=time.strftime("%Y-%m-%d %H:%M"), build_code=_code_version())
            if args.keep:
                (args.work / "build.json").write_text(json.dumps(built, ensure_ascii=False, indent=1) + "\n",
                                                      encoding="utf-8")
            load_before = os.getloadavg()
        measured = _step("measure", args)
    finally:
        if not args.keep:
            shutil.rmtree(args.work.parent if temporary else args.work, ignore_errors=True)
    out = {
        "chunks": built["chunks"], "build_s": built["build_s"], "disk_mb": built["disk_mb"],
        "rss_mb": measured["rss_mb"], "load_s": measured["load_s"],
        "retrieve_p50_ms": measured["retrieve_p50_ms"], "retrieve_p95_ms": measured["retrieve_p95_ms"],
        "ask_p50_ms": measured["ask_p50_ms"], "ask_p95_ms": measured["ask_p95_ms"],
        "add_document_s": measured["add_document_s"], "remove_document_s": measured["remove_document_s"],
        "backend": args.backend if args.backend == "local" else "milvus-lite",
        "target_chunks": args.chunks, "documents": built["documents"], "clauses": built["clauses"],
        "corpus_s": built["corpus_s"], "build_rss_mb": built["build_rss_mb"],
        **{k: v for k, v in measured.items() if k not in KEYS},
        "vectors": built["vectors"] + " (not embedded: embedding this corpus at ~35 texts/s would take days)",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": [round(x, 2) for x in load_before] + [round(x, 2) for x in os.getloadavg()],
        "build_load_average": built["build_load_average"], "build_date": built["build_date"],
        "build_code": built["build_code"],
        "date": time.strftime("%Y-%m-%d %H:%M"), "code": _code_version(),
    }
    emit(out, args.out)
    return 0


def emit(figures: dict, out: Path | None) -> None:
    """Print the figures as JSON, and write them to `out` when given."""
    text = json.dumps(figures, ensure_ascii=False, indent=1)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    raise SystemExit(main())
