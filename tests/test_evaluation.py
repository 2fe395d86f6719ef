"""The eval runner: metric functions on hand-made cases, then a real subset run (real embedder, real index), then
slices of unseen documents (discovery, staging, and a tiny fixture slice run end to end on its own index)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import GenerationError
from rag.evaluation import (
    DEFAULT_SET,
    OURS,
    EvalItem,
    EvalSetError,
    aggregate,
    answer_correct,
    citation_correct,
    form_in,
    format_table,
    gold_spans,
    load_compare,
    load_set,
    refusal_pr,
    retrieval_rank,
    run_eval,
)
from rag.baselines import HYBRID_LABEL, TUTORIAL_LABEL
from rag.eval_slices import EvalSlice, SliceError, discover_slices, prepare_slice, resolve_slices, stage_documents
from rag.settings import REPO_ROOT, Settings

SX = "documents/shaoxing_2025_st_innovation_work_points.txt"
YT = "documents/yingtan_2025_st_work_opinions.txt"


def item(kind="numeric", answers=(("450亿元",),), gold=((SX, "实现技术交易额450亿元"),), lang="zh") -> EvalItem:
    return EvalItem("t-1", "q", lang, kind, tuple(tuple(g) for g in answers), tuple(gold))


def cit(source, quote, start=0, end=None):
    return {"doc_id": Path(source).stem, "source": source, "quote": quote, "start": start,
            "end": start + len(quote) if end is None else end}


# ---------------------------------------------------------------- matching


@pytest.mark.parametrize("form,text,expected", [
    ("2%", "增长3.2%", False),          # a decimal's tail is not the figure
    ("2%", "增长2%以上", True),
    ("200家", "新增1200家", False),      # nor is the tail of a bigger number
    ("200家", "新认定200家", True),
    ("200家", "新认定200 家", True),     # space between number and unit ignored
    ("200 家", "新认定200家", True),
    ("3", "3.5倍", False),              # nor the head of a decimal
    ("520", "入库数520。", True),
    ("520", "the target is 520.", True),  # a full stop is not a decimal point
    ("520", "5200", False),
    ("450亿元", "实现技术交易额４５０亿元", True),  # NFKC: full-width digits
    ("3.3%", "研发投入强度达3.3％", True),          # NFKC: full-width percent
    ("2.5%", "达12.5%", False),
    ("市科技局", "发文机关: 市科技局", True),     # no number: plain substring
    ("2025-04-23", "成文日期: 2025-04-23", True),
])
def test_form_boundaries(form, text, expected):
    assert form_in(form, text) is expected


def test_answer_accuracy_rules():
    two = item(answers=(("32亿元",), ("92亿元", "92億元")))
    assert answer_correct(two, "南昌32亿元；鹰潭92亿元", refused=False)
    assert not answer_correct(two, "鹰潭92亿元", refused=False)          # every group must match
    assert not answer_correct(two, "南昌32亿元；鹰潭92亿元", refused=True)  # a refusal is never right here
    assert not answer_correct(two, "南昌132亿元；鹰潭92亿元", refused=False)
    un = item(kind="unanswerable", answers=(), gold=())
    assert answer_correct(un, "文档中没有相关内容", refused=True)
    assert not answer_correct(un, "杭州450亿元", refused=False)


def test_citation_accuracy_rules():
    text = "……组织开展“绍兴拍”系列活动,实现技术交易额450亿元。"
    texts = {SX: text}
    it = item()
    spans = gold_spans(it, texts)
    start = text.index("实现技术交易额450亿元")
    assert spans == [(SX, start, start + len("实现技术交易额450亿元"), "实现技术交易额450亿元")]
    # quote from the gold document that contains the form
    assert citation_correct(it, [cit(SX, "实现技术交易额450亿元", start)], spans)
    # right figure, wrong document
    assert not citation_correct(it, [cit(YT, "实现技术交易额450亿元")], spans)
    # gold document but a quote without the figure that does not overlap the gold span
    assert not citation_correct(it, [cit(SX, "组织开展", text.index("组织开展"))], spans)
    # gold document, no figure in the quote, but its offsets overlap the gold span
    assert citation_correct(it, [cit(SX, "实现技术交易额", start)], spans)
    # no citations at all
    assert not citation_correct(it, [], spans)
    # unanswerable: right only with no citations
    un = item(kind="unanswerable", answers=(), gold=())
    assert citation_correct(un, [], [])
    assert not citation_correct(un, [cit(SX, "实现技术交易额450亿元", start)], [])


def test_comparison_citations_need_every_side():
    texts = {SX: "实现技术交易额450亿元", YT: "2025年技术合同成交额突破92亿元"}
    gold = ((SX, "实现技术交易额450亿元"), (YT, "2025年技术合同成交额突破92亿元"))
    cmp_item = item(kind="comparison", answers=(("450亿元",), ("92亿元",)), gold=gold)
    spans = gold_spans(cmp_item, texts)
    one = [cit(SX, "实现技术交易额450亿元")]
    both = one + [cit(YT, "2025年技术合同成交额突破92亿元")]
    assert not citation_correct(cmp_item, one, spans)
    assert citation_correct(cmp_item, both, spans)
    # a non-comparison item with two groups needs only one supported group
    fact = item(kind="fact", answers=(("450亿元",), ("92亿元",)), gold=gold)
    assert citation_correct(fact, one, spans)


def test_refusal_precision_recall_and_retrieval_rank():
    rows = [{"kind": "unanswerable", "refused": True}, {"kind": "unanswerable", "refused": False},
            {"kind": "numeric", "refused": True}, {"kind": "numeric", "refused": False},
            {"kind": "fact", "refused": False}]
    p, r = refusal_pr(rows)
    assert p == pytest.approx(0.5) and r == pytest.approx(0.5)
    assert refusal_pr([{"kind": "numeric", "refused": False}]) == (None, None)

    spans = [(SX, 100, 120, "q")]
    assert retrieval_rank([(YT, 100, 120), (SX, 0, 99), (SX, 110, 300)], spans) == 3
    assert retrieval_rank([(SX, 120, 200)], spans) is None  # [start, end) touching is not overlapping
    base = {"citations_n": 0, "offsets_valid": 0, "numbers": 0, "ungrounded": [], "latency_ms": 1.0,
            "answer_correct": True, "citation_correct": True, "refused": False, "kind": "numeric"}
    m = aggregate([{**base, "retrieval_rank": 1}, {**base, "retrieval_rank": 4}, {**base, "retrieval_rank": None}])
    assert m["recall_at_k"] == pytest.approx(2 / 3)
    assert m["mrr"] == pytest.approx((1 + 0.25 + 0) / 3)


# ---------------------------------------------------------------- the set and settings


def test_real_set_loads():
    items = load_set(DEFAULT_SET)
    assert len(items) >= 100 and {i.kind for i in items} >= {"numeric", "unanswerable", "comparison"}


@pytest.mark.parametrize("line,message", [
    ("{not json", "not valid JSON"),
    (json.dumps({"id": "a", "question": "q", "lang": "zh", "kind": "numeric", "answers": [["1"]]}), "missing field"),
    (json.dumps({"id": "a", "question": "q", "lang": "zh", "kind": "guess", "answers": [["1"]],
                 "gold": [{"source": SX, "quote": "1"}]}), "kind 'guess'"),
    (json.dumps({"id": "a", "question": "q", "lang": "zh", "kind": "numeric", "answers": ["1"],
                 "gold": [{"source": SX, "quote": "1"}]}), "answers must be"),
    (json.dumps({"id": "a", "question": "q", "lang": "zh", "kind": "unanswerable", "answers": [["1"]],
                 "gold": []}), "unanswerable items need empty"),
])
def test_malformed_set_is_rejected_clearly(tmp_path, line, message):
    path = tmp_path / "set.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match=message) as exc:
        load_set(path)
    assert str(path) in str(exc.value)  # says which file (and line)


def test_duplicate_ids_rejected(tmp_path):
    row = json.dumps({"id": "a", "question": "q", "lang": "zh", "kind": "unanswerable", "answers": [], "gold": []})
    path = tmp_path / "set.jsonl"
    path.write_text(row + "\n" + row + "\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match="duplicate id 'a'"):
        load_set(path)


def test_compare_settings_files_overlay_the_base(tmp_path):
    base = Settings(index_dir=tmp_path / "idx", fetch_k=40)
    (label, s), = load_compare([REPO_ROOT / "eval/settings/k3.json"], base)
    assert label == "k3" and s.k == 3 and s.index_dir == tmp_path / "idx" and s.fetch_k == 40
    assert Settings.load(REPO_ROOT / "eval/settings/k8.json").k == 8


def test_llm_judge_without_endpoint_says_what_to_set():
    with pytest.raises(GenerationError, match="POLICY_RAG_LLM_BASE_URL"):
        run_eval(Settings(llm_base_url=None, llm_api_key=None), llm_judge=True, limit=1, progress=False)


# ---------------------------------------------------------------- a real subset run


@pytest.fixture(scope="module")
def subset_run(built, tmp_path_factory):
    """One real run over a fixed subset, on the session index from conftest (built fresh from documents/, so it
    matches the current chunker; a copy of indexes/default could be stale)."""
    ids = [json.loads(line)["id"] for line in DEFAULT_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    subset = ids[::5]  # every 5th item: 33 items, every kind and language represented
    out = tmp_path_factory.mktemp("eval-out")
    metrics = run_eval(built.settings, ids=subset, baselines=True, out_dir=out, progress=False)
    return metrics, out, subset


@pytest.mark.slow
def test_subset_run_writes_report_and_meets_floors(subset_run):
    metrics, out, subset = subset_run
    for name in ("report.md", "metrics.json", "results.jsonl", "accuracy_by_kind.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "accuracy_by_kind.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert metrics["items"] == len(subset) == 33
    systems = metrics["systems"]
    assert list(systems) == [OURS, TUTORIAL_LABEL, HYBRID_LABEL]
    assert set(systems[OURS]["by_kind"]) == {"numeric", "fact", "comparison", "disambiguation", "paraphrase",
                                             "unanswerable"}
    ours = systems[OURS]["overall"]
    # Measured on this subset (k=5): answer and citation accuracy 72.7% at commit 4f32826, 69.7% at 85b41da's parent,
    # 90.9% (30/33) after the clause-scoring changes of 2026-11-22 (full set: 90.9%). The floors are 80%, about 10
    # points below the latest measurement. The baselines measured 21.2% (tutorial) and 48.5% (hybrid) answer accuracy.
    assert ours["answer_accuracy"] >= 0.80, format_table(metrics)
    assert ours["citation_accuracy"] >= 0.80, format_table(metrics)
    assert ours["offset_validity"] == 1.0
    for baseline in (TUTORIAL_LABEL, HYBRID_LABEL):
        assert ours["answer_accuracy"] > systems[baseline]["overall"]["answer_accuracy"], format_table(metrics)
        assert systems[baseline]["overall"]["refusal_recall"] == 0.0  # baselines never refuse

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3 * 33
    for r in rows:
        assert {"id", "kind", "lang", "question", "system", "answer", "refused", "citations", "answer_correct",
                "citation_correct", "latency_ms", "failure"} <= set(r)
        assert (r["failure"] is None) == (r["answer_correct"] and r["citation_correct"])
        for c in r["citations"]:
            assert set(c) == {"doc_id", "source", "quote", "start", "end"}
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "accuracy_by_kind.png" in report and "## Failures" in report and "run_eval(" in report  # reproduce command
    failed = [r["id"] for r in rows if r["system"] == OURS and r["failure"]]
    for fid in failed:
        assert f"**{fid}**" in report
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["items"] == 33


# ---------------------------------------------------------------- slices of unseen documents


FIXTURE_SLICE = EvalSlice.from_dir(REPO_ROOT / "tests" / "fixtures" / "unseen" / "fixture")
FIVE_PLANS = {p.name for p in (REPO_ROOT / "documents").iterdir() if p.suffix == ".txt"}
FIXTURE_DOCS = {"fixture_zhoushan_2024_st_work_points.txt", "fixture_lishui_2023_ecology_st_plan.md"}


def _make_slice(root: Path, split: str, docs: dict[str, str], rows: list[dict] | None = None) -> Path:
    folder = root / split
    (folder / "documents").mkdir(parents=True)
    for name, text in docs.items():
        (folder / "documents" / name).write_text(text, encoding="utf-8")
    if rows is not None:
        (folder / "set.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                          encoding="utf-8")
    return folder


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_slices_are_discovered_and_resolved_by_name_or_path(tmp_path):
    un = {"id": "u", "question": "q", "lang": "zh", "kind": "unanswerable", "answers": [], "gold": []}
    _make_slice(tmp_path, "dev", {"a.txt": "x"}, [un])
    _make_slice(tmp_path, "heldout", {"b.txt": "y"}, [un])
    _make_slice(tmp_path, "draft", {"c.txt": "z"})  # no set.jsonl yet: not a slice
    found = discover_slices(tmp_path)
    assert [s.name for s in found] == ["unseen-dev", "unseen-heldout"]
    assert [s.sealed for s in found] == [False, True]  # heldout is reported, never tuned on
    dev = tmp_path / "dev"
    assert (found[0].set_path, found[0].documents_dir) == (dev / "set.jsonl", dev / "documents")
    assert resolve_slices(["dev"], tmp_path) == resolve_slices(["unseen-dev"], tmp_path) == found[:1]
    assert resolve_slices([str(tmp_path / "heldout")], tmp_path) == found[1:]
    with pytest.raises(SliceError, match="no eval slice 'draft'.*dev, heldout"):
        resolve_slices(["draft"], tmp_path)
    assert discover_slices(tmp_path / "missing") == []


def test_cli_slice_flags_pick_the_slices():
    from rag.cli import _eval_slices, build_parser

    parse = lambda *a: build_parser().parse_args(["eval", *a])  # noqa: E731
    assert _eval_slices(parse("--no-slices")) == []
    assert _eval_slices(parse()) == discover_slices()
    assert _eval_slices(parse("--slice", str(FIXTURE_SLICE.set_path.parent))) == [FIXTURE_SLICE]
    with pytest.raises(SliceError, match="contradict"):
        _eval_slices(parse("--no-slices", "--slice", "dev"))
    with pytest.raises(SystemExit):  # argparse: mutually exclusive
        parse("--no-slices", "--slices-only")


def test_staging_copies_exactly_and_never_writes_into_the_sources(tmp_path):
    a, b, dest = tmp_path / "a", tmp_path / "b", tmp_path / "work" / "documents"
    a.mkdir(), b.mkdir()
    (a / "plan.txt").write_text("甲", encoding="utf-8")
    (a / "plan.meta.json").write_text('{"city": "甲"}', encoding="utf-8")
    (a / "README.md").write_text("not a plan", encoding="utf-8")
    (a / ".hidden.txt").write_text("no", encoding="utf-8")
    (b / "other.md").write_text("乙", encoding="utf-8")
    before = (_listing(a), _listing(b))
    assert stage_documents([a, b], dest) is True  # a sidecar appeared
    assert _listing(dest) == {"other.md": "乙".encode(), "plan.meta.json": b'{"city": "\xe7\x94\xb2"}',
                              "plan.txt": "甲".encode()}
    mtimes = {p.name: p.stat().st_mtime_ns for p in dest.iterdir()}
    assert stage_documents([a, b], dest) is False  # unchanged: nothing rewritten
    assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir()} == mtimes
    (dest / "stale.txt").write_text("old", encoding="utf-8")
    (b / "other.md").write_text("乙2", encoding="utf-8")
    stage_documents([a, b], dest)
    assert set(_listing(dest)) == {"other.md", "plan.meta.json", "plan.txt"}
    assert (dest / "other.md").read_text(encoding="utf-8") == "乙2"
    assert (_listing(a), _listing(b)) != before and _listing(a) == before[0]  # only our edit to b changed b
    (b / "plan.txt").write_text("another plan, same name", encoding="utf-8")
    with pytest.raises(SliceError, match="same name"):
        stage_documents([a, b], dest)
    with pytest.raises(SliceError, match="inside"):
        stage_documents([a], a / "staging")


def test_real_slices_load():
    """The slices under eval/unseen/ (if any yet) load and validate; their content is not inspected here."""
    for sl in discover_slices():
        assert load_set(sl.set_path), sl.name
        assert sl.documents_dir.is_dir()


@pytest.fixture(scope="module")
def slice_run(built, tmp_path_factory):
    """Two main-set items plus the whole fixture slice, ours only, on the session index and the slice's own
    index (seeded from the session index, so only the two fixture plans are embedded)."""
    main_ids = [it.id for it in load_set(DEFAULT_SET)[:2]]
    slice_ids = [it.id for it in load_set(FIXTURE_SLICE.set_path)]
    out = tmp_path_factory.mktemp("eval-slice-out")
    sources = (_listing(built.documents_dir), _listing(FIXTURE_SLICE.documents_dir))
    metrics = run_eval(built.settings, ids=main_ids + slice_ids, baselines=False, out_dir=out, progress=False,
                       slices=[FIXTURE_SLICE])
    assert (_listing(built.documents_dir), _listing(FIXTURE_SLICE.documents_dir)) == sources  # never written
    return metrics, out, main_ids, slice_ids


def test_slice_is_scored_on_its_own_index_and_reported(slice_run, built):
    metrics, out, main_ids, slice_ids = slice_run
    assert metrics["items"] == 2 and list(metrics["systems"]) == [OURS]  # the main set's keys are unchanged
    s = metrics["slices"]["unseen-fixture"]
    assert s["items"] == len(slice_ids) == 4 and list(s["systems"]) == [OURS]
    ours = s["systems"][OURS]
    assert ours["overall"]["n"] == 4 and ours["overall"]["offset_validity"] == 1.0
    assert {k: v["n"] for k, v in ours["by_kind"].items()} == {"numeric": 2, "comparison": 1, "unanswerable": 1}
    assert {k: v["n"] for k, v in ours["by_lang"].items()} == {"zh": 3, "zh-Hant": 1}
    # its own index: the five plans plus the slice's documents, in a folder beside the main index
    work = built.index_dir.parent / "eval-unseen-fixture"
    assert s["index_dir"] == str(work / "index")
    assert {Path(d).name for d in s["indexed_documents"]} == FIVE_PLANS | FIXTURE_DOCS
    sidecar = "fixture_lishui_2023_ecology_st_plan.meta.json"
    assert set(_listing(work / "documents")) == FIVE_PLANS | FIXTURE_DOCS | {sidecar}

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(r["id"] for r in rows if r["slice"] == "main") == sorted(main_ids)
    assert sorted(r["id"] for r in rows if r["slice"] == "unseen-fixture") == sorted(slice_ids)
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["slices"]["unseen-fixture"]["items"] == 4
    report = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("## Headline", "## Slice `unseen-fixture`", "### By question kind (unseen-fixture",
                    "### By language (unseen-fixture", "### Failures (unseen-fixture", "## Failures ("):
        assert heading in report, heading
    assert "EvalSlice(" in report  # the reproduce command re-creates the slice
    assert (out / "accuracy_by_kind-unseen-fixture.png").read_bytes()[:4] == b"\x89PNG"
    table = format_table(metrics)
    assert "| main (n=2) | policy-rag" in table and "| unseen-fixture (n=4) | policy-rag" in table


def test_slice_index_is_reused_when_nothing_changed(slice_run, built):
    from rag import Assistant

    manifest = built.index_dir.parent / "eval-unseen-fixture" / "index" / "manifest.json"
    before = manifest.read_bytes()
    settings = prepare_slice(built.settings, FIXTURE_SLICE)
    Assistant.from_settings(settings)
    assert manifest.read_bytes() == before


def test_slice_gold_errors_name_the_slice_file_and_item(built, tmp_path):
    text = (FIXTURE_SLICE.documents_dir / "fixture_zhoushan_2024_st_work_points.txt").read_text(encoding="utf-8")
    row = {"id": "bad-1", "question": "舟山市2024年技术交易额目标是多少?", "lang": "zh", "kind": "numeric",
           "answers": [["85亿元"]], "gold": [{"source": "x/documents/fixture_zhoushan_2024_st_work_points.txt",
                                             "quote": "技术交易额突破86亿元"}]}
    folder = _make_slice(tmp_path, "heldout", {"fixture_zhoushan_2024_st_work_points.txt": text}, [row])
    sealed = EvalSlice.from_dir(folder)
    with pytest.raises(EvalSetError) as exc:
        run_eval(built.settings, main=False, slices=[sealed], baselines=False, progress=False)
    msg = str(exc.value)
    assert "unseen-heldout" in msg and str(sealed.set_path) in msg and "bad-1" in msg and "86亿元" not in msg


def test_a_table_row_holds_a_figure_whose_unit_stands_in_its_label_or_unit_cell():
    from rag.eval_metrics import row_holds

    assert row_holds(("2.0%",), "| 全社会研发投入强度 | % | 1.31 | 1.52 | 2.0 | 滞后 |")
    assert row_holds(("62%",), "8　科技进步贡献率（%）　56　62　预期性")
    assert row_holds(("600亿元",), "技术合同成交额（亿元）          336.2      600        预期性")
    assert not row_holds(("2.0%",), "| 研发投入强度 | % | 1.31 | 2.05 |")  # no cell is the number
    assert not row_holds(("450家",), "| 高新技术企业数 | 个 | 450 |")  # another unit
    assert not row_holds(("2.0%",), "研发投入强度达到2.0，较上年")  # prose, not a row
    it = item(answers=(("2.0%",),), gold=((SX, "实现技术交易额450亿元"),))
    assert citation_correct(it, [cit(SX, "| 全社会研发投入强度 | % | 1.31 | 2.0 |")], [])
