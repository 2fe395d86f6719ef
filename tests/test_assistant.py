"""End to end through `Assistant.ask` on the real documents with the real default model."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag import Assistant, InvalidQuestionError
from rag.errors import DocumentLoadError
from rag.numbers import ungrounded_numbers

SHAOXING = "documents/shaoxing_2025_st_innovation_work_points.txt"


def _valid(assistant, answer):
    for c in answer.citations:
        assert assistant.index.documents[c.doc_id].text[c.start:c.end] == c.quote


def test_shaoxing_in_chinese(assistant):
    a = assistant.ask("绍兴2025年技术交易额目标是多少?")
    assert not a.refused and "450亿元" in a.answer
    assert a.citations[0].source == SHAOXING and "450亿元" in a.citations[0].quote
    assert a.citations[0].city == "绍兴" and a.citations[0].year == 2025
    _valid(assistant, a)


def test_shaoxing_in_english_renders_both_ways(assistant):
    a = assistant.ask("What is Shaoxing's 2025 technology transaction target?")
    assert not a.refused and "450亿元" in a.answer and "45 billion yuan" in a.answer
    assert a.citations[0].source == SHAOXING
    assert a.answer.startswith("According to")
    _valid(assistant, a)
    evidence = " ".join(c.quote + " " + c.title for c in a.citations)
    assert ungrounded_numbers(a.answer, evidence) == []


def test_traditional_chinese(assistant):
    a = assistant.ask("紹興2025年技術交易額目標是多少?")
    assert "450亿元" in a.answer


def test_ganzhou_annual_points_vs_fourteenth_five_year_plan(assistant):
    a = assistant.ask("赣州2025年工作要点中新认定高新技术企业的目标是多少?")
    assert a.citations[0].doc_id == "ganzhou_2025_st_work_points" and "200" in a.citations[0].quote
    b = assistant.ask("赣州“十四五”实施方案提出到2025年高新技术企业数达到多少家?")
    assert b.citations[0].doc_id == "ganzhou_14th_fyp_st_plan_implementation" and "2000家" in b.answer


@pytest.mark.parametrize("question", [
    "杭州2025年技术交易额目标是多少?",
    "What is Hangzhou's 2025 target for high-tech enterprises?",
    "南昌2020年技术合同交易额目标是多少?",
    "鹰潭2025年计划新增多少家科技企业孵化器?",
])
def test_refusals(assistant, question):
    a = assistant.ask(question)
    assert a.refused and a.citations == []
    assert ("没有" in a.answer) or ("do not state" in a.answer)


def test_wrong_year_figure_is_not_used(assistant):
    # The Yingtan plan states the 2024 R&D intensity (2.4%), not a 2025 target.
    a = assistant.ask("鹰潭2025年全社会研发经费投入占GDP比重目标是多少?")
    assert "2.4%" not in a.answer


def test_comparison_cites_each_document(assistant):
    a = assistant.ask("鹰潭和绍兴2025年技术合同成交额目标分别是多少?")
    docs = {c.doc_id for c in a.citations}
    assert {"yingtan_2025_st_work_opinions", "shaoxing_2025_st_innovation_work_points"} <= docs
    assert "92亿元" in a.answer
    _valid(assistant, a)


def test_metadata_question_cites_the_index_box(assistant):
    a = assistant.ask("《2025年鹰潭市科技工作意见》的成文日期是哪天?")
    assert "2025-04-23" in a.answer
    _valid(assistant, a)


def test_city_and_year_filters(assistant):
    a = assistant.ask("技术合同成交额目标是多少?", city="Yingtan")
    assert {c.city for c in a.citations} == {"鹰潭"}
    a = assistant.ask("技术合同交易额目标是多少?", year=2015)
    assert {c.doc_id for c in a.citations} == {"nanchang_2015_st_work_points"}


@pytest.mark.parametrize("bad", ["", "   ", "问" * 5000, None, 42])
def test_invalid_questions(assistant, bad):
    with pytest.raises(InvalidQuestionError):
        assistant.ask(bad)


def test_to_dict_is_the_json_contract(assistant):
    d = assistant.ask("绍兴2025年技术交易额目标是多少?").to_dict()
    assert set(d) >= {"answer", "refused", "citations", "question"}
    assert set(d["citations"][0]) >= {"doc_id", "source", "title", "city", "year", "section", "quote", "start",
                                      "end", "score"}


def test_concurrent_questions_get_their_own_answers(assistant):
    questions = {"绍兴2025年技术交易额目标是多少?": "450亿元", "鹰潭2025年技术合同成交额目标?": "92亿元",
                 "南昌2015年专利申请量目标?": "9000件"} 
    jobs = list(questions.items()) * 6
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda qa: (qa[1], assistant.ask(qa[0]).answer), jobs))
    assert all(expected in answer for expected, answer in results)


def test_add_gbk_document_while_questions_run(workspace):
    assistant = Assistant.from_settings(workspace.settings)
    text = "2025年宁波市科技工作要点\n一、主要目标\n全市技术合同成交额突破333亿元,新认定高新技术企业800家。\n"
    stop, errors = threading.Event(), []

    def ask_loop():
        while not stop.is_set():
            try:
                assert "450亿元" in assistant.ask("绍兴2025年技术交易额目标是多少?").answer
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    t = threading.Thread(target=ask_loop)
    t.start()
    try:
        result = assistant.add_document("ningbo.txt", text.encode("gbk"))
    finally:
        stop.set()
        t.join()
    assert errors == [] and result["documents"] == 6
    a = assistant.ask("宁波2025年技术合同成交额目标是多少?")
    assert "333亿元" in a.answer and a.citations[0].city == "宁波"
    assistant.remove_document("ningbo")
    assert assistant.ask("宁波2025年技术合同成交额目标是多少?").refused


def test_bad_upload_loses_nothing(workspace):
    assistant = Assistant.from_settings(workspace.settings)
    before = sorted(p.name for p in workspace.documents_dir.iterdir())
    with pytest.raises(Exception, match="binary"):
        assistant.add_document("evil.txt", b"\x00\x01\x02" * 100)
    with pytest.raises(Exception, match="unsupported"):
        assistant.add_document("x.exe", b"MZ")
    assert sorted(p.name for p in workspace.documents_dir.iterdir()) == before
    assert len(assistant.documents()) == 5
    saved = assistant.add_document("../../escape.txt", "2025年宁波市科技工作要点\n新增孵化器3家。\n".encode())
    assert (workspace.documents_dir / saved["saved_as"]).exists()
    assert not (workspace.documents_dir.parent.parent / "escape.txt").exists()


def test_two_plans_of_one_city_are_compared(assistant):
    a = assistant.ask("赣州2025年工作要点和十四五实施方案对高新技术企业的目标分别是多少?")
    assert {c.doc_id for c in a.citations} == {"ganzhou_2025_st_work_points", "ganzhou_14th_fyp_st_plan_implementation"}
    assert "2000家" in a.answer and "200" in a.answer
    _valid(assistant, a)


def test_question_without_a_city_answers_for_each_city_labelled(assistant):
    a = assistant.ask("2025年技术合同成交额目标是多少?")
    assert len({c.city for c in a.citations}) >= 2  # never one city's figure passed off as "the" answer
    for c in a.citations:
        assert c.title in a.answer
    assert assistant.ask("2030年科技目标是什么?").refused


def test_a_question_without_a_place_over_many_places_answers_the_best_and_says_how_many_more(assistant, monkeypatch):
    """With plans of thousands of places, answering each would take a minute: the places whose plans rank best for
    the question are answered (here 2 of the 4), and the answer says how many more have plans."""
    import rag.assistant as assistant_module

    full = assistant.ask("2025年技术合同成交额目标是多少?")
    monkeypatch.setattr(assistant_module, "OPEN_QUESTION_MAX_PLACES", 2)
    a = assistant.ask("2025年技术合同成交额目标是多少?")
    assert not a.refused and "只列出了与问题最相关的2个地方；另有2个地方的规划未查看" in a.answer
    assert 1 <= len({c.city for c in a.citations}) <= 2
    assert {c.city for c in a.citations} <= {c.city for c in full.citations}  # the best places are still there
    _valid(assistant, a)
    english = assistant.ask("What are the 2025 targets for technology contract turnover?")
    assert "the plans of 2 more places were not searched" in english.answer


# ---------------------------------------------------------------- places at every level, open-world questions (#7)


@pytest.mark.parametrize("question, place", [("赣洲2025年新认定高新技术企业目标是多少家?", "赣州"),
                                             ("鹰谭2025年技术合同成交额目标是多少?", "鹰潭")])
def test_homophone_typo_resolves_to_the_indexed_place_and_says_so(assistant, question, place):
    a = assistant.ask(question)
    assert not a.refused and f"按“{place}”理解" in a.answer
    assert {c.city for c in a.citations} == {place}
    _valid(assistant, a)


@pytest.mark.parametrize("question, must", [
    ("海南2025年高新技术企业目标是多少?", "海南省"),           # a province with no plan: refused by name
    ("浙江省2025年研发投入强度目标是多少?", "绍兴"),          # only a city plan inside it: says which
    ("洞头区2025年技术合同成交额目标是多少?", "洞头区"),        # a district with no plan
])
def test_places_without_their_own_plan_are_refused_by_name(assistant, question, must):
    a = assistant.ask(question)
    assert a.refused and must in a.answer and not a.citations


def test_a_place_filter_that_contradicts_the_question_says_so(assistant):
    a = assistant.ask("绍兴2025年技术交易额目标是多少?", city="赣州")
    assert a.refused and "不一致" in a.answer
    assert "450亿元" in assistant.ask("2025年技术交易额目标是多少?", city="Shaoxing").answer


def test_year_written_with_a_space(assistant):
    a = assistant.ask("鹰潭2025 年技术合同成交额目标是多少?")
    assert not a.refused and "92亿元" in a.answer


@pytest.mark.parametrize("question", ["😀😀", "？？!!", "\x01\x02\x03"])
def test_questions_with_no_content_are_invalid(assistant, question):
    with pytest.raises(InvalidQuestionError):
        assistant.ask(question)


def test_corpus_questions_are_answered_from_metadata(assistant):
    a = assistant.ask("这些文件一共有几份?")
    assert not a.refused and "5份" in a.answer and len(a.citations) == 5
    assert {c.quote for c in a.citations} == {d.metadata.title for d in assistant.index.documents.values()}
    _valid(assistant, a)
    en = assistant.ask("Which cities are covered?")
    assert all(city in en.answer for city in ("绍兴", "赣州", "鹰潭", "南昌"))


def test_who_issued_a_plan(assistant):
    a = assistant.ask("鹰潭的工作意见是哪个部门发的?")
    assert not a.refused and "鹰潭市科技局" in a.answer
    _valid(assistant, a)


def test_summary_lists_the_plans_sections(assistant):
    a = assistant.ask("总结一下鹰潭2025年的科技工作意见")
    assert not a.refused and len(a.citations) >= 3 and all("、" in c.quote for c in a.citations)
    _valid(assistant, a)


def test_who_is_higher_gives_both_figures(assistant):
    a = assistant.ask("绍兴和赣州谁的研发强度目标更高?")
    assert "3.3%" in a.answer and {c.city for c in a.citations} >= {"绍兴"}
    _valid(assistant, a)


def test_editing_only_a_sidecar_updates_the_index(workspace):
    """A `.meta.json` sidecar overrides metadata; changing only the sidecar must not leave the index stale."""
    before = Assistant.from_settings(workspace.settings)
    doc = next(d for d in before.index.documents.values() if d.doc_id.startswith("ganzhou_2025"))
    assert doc.metadata.issuer is None
    (workspace.documents_dir / "ganzhou_2025_st_work_points.meta.json").write_text(
        '{"issuer": "赣州市科学技术局", "district": "章贡区"}', encoding="utf-8")
    after = Assistant.from_settings(workspace.settings).index.documents[doc.doc_id].metadata
    assert after.issuer == "赣州市科学技术局"
    assert (after.place, after.level, after.city, after.province) == ("章贡区", "county", "赣州", "江西")


def _older_pipeline(index_dir) -> None:
    import json

    path = index_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["pipeline_version"] = "2020.01.01-1"
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def test_an_index_of_an_older_pipeline_is_rebuilt_at_start_when_small(workspace):
    from rag.store import PIPELINE_VERSION

    _older_pipeline(workspace.index_dir)
    assistant = Assistant.from_settings(workspace.settings)
    assert assistant.index.manifest["pipeline_version"] == PIPELINE_VERSION and not assistant.warnings


def test_a_large_index_of_an_older_pipeline_is_served_with_a_warning_and_takes_uploads(workspace, monkeypatch):
    """Rebuilding a million chunks would hold the start up for an hour: the index is served as it is, changed
    documents are written into it, and `rag index` (an explicit build) upgrades it."""
    import rag.assistant as assistant_module
    from rag.store import PIPELINE_VERSION
    from rag.stores.backends import build_store

    monkeypatch.setattr(assistant_module, "UPGRADE_AT_START_MAX_CHUNKS", 10)
    _older_pipeline(workspace.index_dir)
    (workspace.documents_dir / "zz_ningbo.txt").write_text(
        "2025年宁波市科技工作要点\n一、主要目标\n全市技术合同成交额突破333亿元。\n", encoding="utf-8")
    assistant = Assistant.from_settings(workspace.settings)
    manifest = assistant.index.manifest
    assert manifest["pipeline_version"] == "2020.01.01-1" and len(manifest["segments"]) == 2  # only the new plan
    assert len(assistant.warnings) == 1 and "`rag index`" in assistant.warnings[0]
    assert "450亿元" in assistant.ask("绍兴2025年技术交易额目标是多少?").answer
    assert "333亿元" in assistant.ask("宁波2025年技术合同成交额目标是多少?").answer
    docs = [assistant.index.document(d) for d in assistant.index.catalog]
    build_store(docs, assistant.embedder, workspace.settings, progress=False)  # what `rag index` runs
    assert Assistant.from_settings(workspace.settings).index.manifest["pipeline_version"] == PIPELINE_VERSION


def test_reupload_with_a_failing_rebuild_keeps_the_original(workspace, monkeypatch):
    """#8.1: uploading the same bytes again, then failing to rebuild (disk full), must not delete the plan."""
    assistant = Assistant.from_settings(workspace.settings)
    path = workspace.documents_dir / "yingtan_2025_st_work_opinions.txt"
    original = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(assistant, "_index_changes", disk_full)
    with pytest.raises(OSError):
        assistant.add_document(path.name, original)
    assert path.read_bytes() == original
    assert not any(p.name.startswith(".") for p in workspace.documents_dir.iterdir())


def test_an_upload_never_replaces_a_plan_with_the_same_id(workspace):
    """#8.2: "yingtan.2025_…" reads as the same id as "yingtan_2025_…": it is saved under its own id instead."""
    assistant = Assistant.from_settings(workspace.settings)
    fake = "2025年鹰潭市科技工作意见\n全市技术合同成交额突破1亿元。\n".encode()
    saved = assistant.add_document("yingtan.2025_st_work_opinions.txt", fake)
    ids = {d["doc_id"] for d in assistant.documents()}
    assert "yingtan_2025_st_work_opinions" in ids and len(ids) == 6
    real = assistant.index.documents["yingtan_2025_st_work_opinions"]
    assert "92亿元" in real.text and saved["saved_as"] != "yingtan.2025_st_work_opinions.txt"


def test_symlinks_are_never_read_and_skipped_files_do_not_rebuild_every_start(workspace, tmp_path):
    """#8.3 / #8.4: a link out of documents/ is not followed; an empty file and a link are skipped once and
    remembered, so the next start loads the index instead of rebuilding it; a look-alike name gets its own id."""
    secret = tmp_path / "secret.txt"
    secret.write_text("2025年绍兴市科技工作要点\n机密数字99999亿元。\n", encoding="utf-8")
    (workspace.documents_dir / "passwd.txt").symlink_to(secret)
    (workspace.documents_dir / "empty.txt").write_text("", encoding="utf-8")
    (workspace.documents_dir / "yingtan.2025_st_work_opinions.txt").write_text("2025年鹰潭市科技工作意见\n重复。\n",
                                                                             encoding="utf-8")
    first = Assistant.from_settings(workspace.settings)
    assert any("symbolic link" in w for w in first.warnings)
    assert "passwd" not in first.index.documents and not any("99999" in d.text for d in first.index.documents.values())
    # the look-alike name gets its own id; the real plan keeps its id and text
    assert "92亿元" in first.index.documents["yingtan_2025_st_work_opinions"].text
    assert "yingtan_2025_st_work_opinions_2" in first.index.documents and len(first.index.documents) == 6
    built_at = first.index.manifest["created_at"], (workspace.index_dir / "manifest.json").stat().st_mtime_ns
    second = Assistant.from_settings(workspace.settings)
    assert (second.index.manifest["created_at"], (workspace.index_dir / "manifest.json").stat().st_mtime_ns) == built_at
    (workspace.documents_dir / "empty.txt").write_text("2025年宁波市科技工作要点\n新增孵化器3家。\n", encoding="utf-8")
    assert len(Assistant.from_settings(workspace.settings).index.documents) == 7  # a skipped file that changes counts


def _tree(directory):
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_an_upload_with_too_much_text_is_refused_before_indexing(workspace, monkeypatch):
    """#8: a 2 MB text upload must not buy ~14 minutes of embedding: too many characters is refused up front,
    and the documents folder and the index are exactly as before."""
    assistant = Assistant.from_settings(workspace.settings)
    assert assistant.settings.max_upload_chars == 200_000
    docs_before, index_before = _tree(workspace.documents_dir), _tree(workspace.index_dir)

    def indexed(*args, **kwargs):
        raise AssertionError("an over-long upload was indexed")

    monkeypatch.setattr(assistant, "_index_changes", indexed)
    huge = ("2025年宁波市科技工作要点\n" + "全市技术合同成交额突破333亿元，新认定高新技术企业800家。\n" * 7000).encode()
    assert len(huge) < assistant.max_upload_bytes  # under the byte limit: only the character limit stops it
    with pytest.raises(DocumentLoadError, match="max_upload_chars") as exc:
        assistant.add_document("ningbo.txt", huge)
    assert "split" in str(exc.value) and "POLICY_RAG_MAX_UPLOAD_CHARS" in str(exc.value)
    assert _tree(workspace.documents_dir) == docs_before and _tree(workspace.index_dir) == index_before
    assert len(assistant.documents()) == 5

    # the limit is a setting: a lower one refuses a small plan too, in GBK as well
    small = Assistant.from_settings(workspace.settings.with_overrides(max_upload_chars=20))
    monkeypatch.setattr(small, "_index_changes", indexed)
    with pytest.raises(DocumentLoadError, match="max_upload_chars"):
        small.add_document("ningbo.txt", "2025年宁波市科技工作要点\n新增孵化器3家，新认定高新技术企业800家。\n".encode("gbk"))
    assert _tree(workspace.documents_dir) == docs_before


UNSEEN_MD = """# 杭州市余杭区科学技术局2023年工作总结和2024年工作计划

## 一、2023年工作总结

**1. 创新主体培育。** 全年新认定高新技术企业520家,有效高新技术企业总数达到3105家。

**2. 人才引育。** 实施“良渚英才计划”,全年入选180人。

**3. 孵化载体。** 新增省级以上科技企业孵化器4家,全区省级以上科技企业孵化器达到41家。

## 二、2024年工作计划

- 有效高新技术企业总数达到3400家;
- 全年技术交易额达到350亿元;
- 设立规模5000万元的科技成果转化贷款风险补偿资金。
"""


# A county notice with a colophon, a prefecture news item with its 来源, a district government work report.
UNSEEN_RECORDS = {
    "huantai_2024_2026_action_plan.txt": (
        "桓台县人民政府办公室关于印发桓台县科技创新三年行动方案的通知\n桓政办发〔2024〕11号\n各镇人民政府:\n"
        "现将《桓台县科技创新三年行动方案(2024—2026年)》印发给你们,请认真贯彻落实。\n"
        "桓台县人民政府办公室\n2024年4月2日\n\n桓台县科技创新三年行动方案(2024—2026年)\n\n一、主要目标\n"
        "到2026年,高新技术产业产值占规上工业总产值比重达到62%。\n\n抄送:县委各部门。\n"
        "桓台县人民政府办公室                              2024年4月3日印发\n"),
    "enshi_2024_st_conference_news.txt": (
        "恩施州召开2024年全州科技创新大会\n发布时间:2024-02-28 08:45    来源:恩施日报    作者:记者 向晓岚\n\n"
        "本报讯 2月27日,恩施土家族苗族自治州2024年全州科技创新大会在恩施市召开。会议部署了2024年重点任务。\n"
        "2024年全州选派科技特派员1500名。\n"
        "2023年，全州技术合同成交额达到9.6亿元，增长31.5%；分县市看，利川市高新技术企业达到31家，"
        "技术合同成交额3.1亿元，均居全州首位。\n"
        "10.实施“清江英才计划”。全年引进高层次科技人才120名、创新团队15个，新建院士（专家）工作站5个。"
        "（责任单位：州委人才办、州科技局）\n"),
    "jilin_14th_fyp_st_plan.txt": (
        "吉林省“十四五”科技创新发展规划\n\n一、主要目标\n到2025年，创新型省份建设取得重要进展。\n"
        "表1\u3000“十四五”科技创新主要指标\n序号\u3000指标\u30002020年\u30002025年\u3000属性\n"
        "1\u3000全社会研发经费投入强度（%）\u30001.30\u30002.0\u3000预期性\n"
        "2\u3000科技进步贡献率（%）\u300056\u300062\u3000预期性\n二、重点任务\n建设长吉图科技创新走廊。\n"),
    "yuexi_2025_gov_work_report_excerpt.txt": (
        "政府工作报告（科技部分摘编）\n——2025年1月8日在岳西县第十八届人民代表大会第四次会议上\n\n"
        "一、2024年工作回顾\n\n科技投入稳步增加。全县研发经费投入达到3.2亿元，增长11.5%。\n\n"
        "二、2025年主要目标任务\n\n（一）提升企业创新能力。对研发投入增长超过20%的规上工业企业给予最高20万元补助。\n"
        "（二）加大财政投入。县本级财政科技支出年均增长8%以上，到2027年达到1.5亿元。\n"),
    "minhang_2025_h1_summary.txt": (
        "闵行区科学技术委员会2025年上半年工作总结\n\n一、主要指标\n"
        "上半年，全区认定登记技术合同2316项，技术合同成交额203.6亿元，同比增长12.8%；"
        "紫竹国家高新区上半年技术合同成交额61.3亿元。\n"),
    "yuhang_2024_gov_work_report.html": (
        "<html><head><title>2024年杭州市余杭区政府工作报告</title></head><body>\n<h1>2024年杭州市余杭区政府工作报告</h1>\n"
        '<p style="text-align:center">区长　周明远</p>\n<p>各位代表:现在,我代表区人民政府向大会作工作报告,请予审议。</p>\n'
        "<p>过去一年,我们坚持创新驱动,科技创新的底色更加鲜明。</p>\n</body></html>\n"),
}


@pytest.fixture(scope="module")
def unseen_md(built, tmp_path_factory):
    """The five plans plus invented unseen documents: a Markdown district plan (summary + next year's plan),
    a county notice with a colophon, a news item, a government work report."""
    from .conftest import assistant_with

    return assistant_with(built, tmp_path_factory.mktemp("unseen_md"),
                          {"yuhang_2023_summary_2024_plan.md": UNSEEN_MD, **UNSEEN_RECORDS})


def test_markdown_summary_answers_the_plan_year_not_the_summary_year(unseen_md):
    a = unseen_md.ask("余杭区2024年有效高新技术企业总数目标是多少?")
    assert "3400家" in a.answer and "3105" not in a.answer and "**" not in a.answer
    _valid(unseen_md, a)


def test_another_indicator_never_answers_for_the_one_asked(unseen_md):
    assert "350亿元" in unseen_md.ask("余杭区2024年技术交易额目标是多少?").answer
    for q in ("余杭区2024年技术合同成交额目标是多少?",
              "What is Yuhang District's 2024 target for technology contract turnover (技术合同成交额)?"):
        assert unseen_md.ask(q).refused, q


def test_a_share_is_never_answered_with_an_amount_of_money(unseen_md):
    # The plan sets no share for high-tech industry; 规模 in the question matched the fund's 规模 before.
    for q in ("余杭区2024年希望高科技产业在规模以上工业产出里占几成?",
              "What share of industrial output above designated size should Yuhang's high-tech industry reach in 2024?"):
        a = unseen_md.ask(q)
        assert "5000万元" not in a.answer, q
        assert a.refused, q


@pytest.mark.parametrize("question, figure, not_figure", [
    ("余杭区2023年底省级以上科技企业孵化器有多少家?", "41家", "4家,"),
    ("How many provincial-level or higher tech business incubators did Yuhang have at the end of 2023?", "41家", "4家,"),
    ("余杭区2023年新增了多少家省级以上科技企业孵化器?", "4家", "41家"),
])
def test_a_total_is_not_answered_with_what_was_added(unseen_md, question, figure, not_figure):
    a = unseen_md.ask(question)
    quotes = " ".join(c.quote for c in a.citations)
    assert figure in quotes and not_figure not in quotes, (question, a.answer)


@pytest.mark.parametrize("question, quote", [
    ("桓台县行动方案的印发日期是哪天?", "2024年4月3日印发"),  # the colophon, not the signature date 4月2日
    ("According to the colophon, on what date was Huantai County's action plan printed and distributed?",
     "2024年4月3日印发"),
    ("恩施州科技创新大会的消息来源是哪家报纸?", "来源:恩施日报"),
    ("余杭区2024年政府工作报告是谁作的?", "区长　周明远"),
    ("Who delivered Yuhang District's 2024 government work report?", "区长　周明远"),
    ("恩施州2024年科技创新大会是哪天召开的?", "2月27日"),  # the event's date in the text, not the page's 2-28
])
def test_publication_record_and_event_dates_are_quoted_from_where_they_stand(unseen_md, question, quote):
    a = unseen_md.ask(question)
    assert not a.refused and any(quote in c.quote for c in a.citations), (question, a.answer)
    _valid(unseen_md, a)


def test_a_newspaper_and_its_reporter_are_both_quoted(unseen_md):
    a = unseen_md.ask("Which newspaper reported Enshi's 2024 S&T innovation conference, and who was the reporter?")
    quotes = " ".join(c.quote for c in a.citations)
    assert "恩施日报" in quotes and "向晓岚" in quotes, a.answer
    _valid(unseen_md, a)


def test_a_table_row_is_read_by_its_header_which_is_cited_too(unseen_md):
    a = unseen_md.ask("吉林省2025年科技进步贡献率目标是多少?")
    assert "2025年：62%" in a.answer and "56%" not in a.answer, a.answer  # the column of the year asked
    quotes = [c.quote for c in a.citations]
    assert any("科技进步贡献率（%）" in q for q in quotes) and "序号\u3000指标\u30002020年\u30002025年\u3000属性" in quotes
    _valid(unseen_md, a)


def test_a_township_is_refused_by_name_not_answered_with_its_county(unseen_md):
    a = unseen_md.ask("桓台县果里镇2026年高新技术产业产值占比目标是多少?")
    assert a.refused and "果里镇" in a.answer and "62%" not in a.answer, a.answer


def test_a_name_question_prefers_the_clause_holding_the_name_over_one_sharing_more_words(unseen_md):
    a = unseen_md.ask("恩施州2024年全州科技创新大会中的人才引进计划叫什么名称？")
    assert "清江英才计划" in a.answer, a.answer
    _valid(unseen_md, a)


def test_a_name_question_gets_the_quoted_name(unseen_md):
    a = unseen_md.ask("余杭区科技局实施的人才计划叫什么名字?")
    assert "良渚英才计划" in a.answer
    _valid(unseen_md, a)


def test_last_year_in_a_question_counts_from_each_plans_date(unseen_md):
    """"去年" asked of a report dated 2025 is 2024: its review section answers, not a 2025 measure."""
    a = unseen_md.ask("岳西县去年一共往研究开发里投了多少钱？")
    assert not a.refused and "3.2亿元" in a.answer and "20万元" not in a.answer
    _valid(unseen_md, a)


def test_a_short_opening_phrase_governs_every_clause_of_its_sentence(unseen_md):
    """"上半年，全区…，技术合同成交额203.6亿元" is the first half's figure as much as the zone's clause that says
    上半年 itself; the district's own figure answers."""
    a = unseen_md.ask("闵行区2025年上半年的技术合同成交额是多少？")
    assert not a.refused and "203.6亿元" in a.answer and "61.3亿元" not in a.answer
    _valid(unseen_md, a)


def test_an_event_date_and_the_page_that_reported_it_are_both_answered(unseen_md):
    """The date is in the text, the newspaper on the page's 来源 line: one question, two kinds of answer."""
    a = unseen_md.ask("恩施州2024年科技创新大会是哪天召开的？哪家报纸报道的？")
    assert not a.refused and "2月27日" in a.answer and "恩施日报" in a.answer
    _valid(unseen_md, a)


def test_a_figure_of_a_place_named_earlier_in_the_sentence_is_not_the_plans_own(unseen_md):
    """"分县市看，利川市…，技术合同成交额3.1亿元，均居全州首位" is 利川市's figure, not the prefecture's."""
    a = unseen_md.ask("恩施州2023年全州技术合同成交额是多少？")
    assert not a.refused and "9.6亿元" in a.answer and "3.1亿元" not in a.answer
    _valid(unseen_md, a)


def test_a_figure_with_only_its_year_is_quoted_with_the_clause_naming_its_indicator(unseen_md):
    """"…年均增长8%以上，到2027年达到1.5亿元": the level asked is in the clause that names only a year."""
    a = unseen_md.ask("岳西县本级财政科技支出到2027年达到多少？")
    assert not a.refused and "1.5亿元" in a.answer
    assert "县本级财政科技支出年均增长8%以上，到2027年达到1.5亿元" in a.citations[0].quote
    _valid(unseen_md, a)


def test_an_upload_whose_indexing_runs_past_its_time_limit_is_rolled_back(workspace):
    """#8.12: indexing an upload is bounded in time too; past max_upload_seconds it stops, and the documents
    folder and the index are exactly as before."""
    from rag import IndexingTimeoutError

    assistant = Assistant.from_settings(workspace.settings.with_overrides(max_upload_seconds=0.001))
    docs_before, index_before = _tree(workspace.documents_dir), _tree(workspace.index_dir)
    text = "2025年宁波市科技工作要点\n" + "".join(f"{i}、全市新建科技项目{i}个，投入资金{i * 7}亿元。\n" for i in range(1, 200))
    with pytest.raises(IndexingTimeoutError, match="POLICY_RAG_MAX_UPLOAD_SECONDS"):
        assistant.add_document("ningbo_2025_work_points.txt", text.encode())
    assert _tree(workspace.documents_dir) == docs_before and _tree(workspace.index_dir) == index_before
    assert len(assistant.documents()) == 5 and "450亿元" in assistant.ask("绍兴2025年技术交易额目标是多少?").answer


def test_the_bundled_sample_plans_are_never_written_to(workspace, monkeypatch):
    from rag import locations

    a = Assistant.from_settings(workspace.settings)
    monkeypatch.setattr(locations, "BUNDLED_DIR", workspace.documents_dir.parent)  # as if installed from a wheel
    assert a.settings.uses_bundled_samples
    before = _tree(workspace.documents_dir)
    with pytest.raises(DocumentLoadError, match="documents_dir"):
        a.add_document("lishui.txt", "2025年丽水市科技工作要点\n技术交易额达到88亿元。\n".encode())
    with pytest.raises(DocumentLoadError, match="sample plans"):
        a.remove_document(next(iter(a.index.documents)))
    assert _tree(workspace.documents_dir) == before


def test_phrasings_of_unseen_plans_find_the_right_figure(workspace):
    """What is new (新认定) against the total, a quoted one-character word, a quantity named without 多少 against
    the note that defines it: each on a plan the system was never tuned on."""
    assistant = Assistant.from_settings(workspace.settings)
    text = ("2025年眉山市科技工作要点\n一、主要目标\n全市技术合同成交额达到35亿元，其中技术交易额21亿元。"
            "新认定高新技术企业40家，高新技术企业总数达到210家。\n二、重点任务\n"
            "发放科技创新券800万元，支持中小企业购买检测服务。\n"
            "附注：技术交易额为技术合同成交额中扣除非技术性费用后的金额。\n"
            "三、工作基础\n2024年，全市高新技术企业152家；全市研发投入强度为1.93%。\n"
            "四、保障\n全市研发投入强度力争达到2.1%。"
            "对企业购买技术成果的，按实际交易额的5%给予补贴，单个企业每年最高30万元。"
            "对绩效评价为优秀的新型研发机构，每家每年给予最高800万元运营经费支持。\n")
    assistant.add_document("meishan_2025_st_work_points.txt", text.encode("utf-8"))
    expected = {"眉山2025年计划新认定多少家高新技术企业？": "40家",
                "How many high-tech enterprises does Meishan plan to newly certify in 2025 (not the total)?": "40家",
                "眉山2025年高新技术企业总数目标是多少？": "210家",
                "眉山今年准备发多少钱的“券”？": "800万元",
                "What is Meishan's technology transaction value (技术交易额) for 2025?": "21亿元",
                "眉山研发投入强度的目标是多少？": "2.1%",
                "眉山企业购买技术成果按多少比例补贴？": "单个企业每年最高30万元",  # a measure with its cap
                "眉山对绩效评价为优秀的新型研发机构有什么支持？": "800万元"}  # a condition with its measure
    for question, figure in expected.items():
        answer = assistant.ask(question)
        assert not answer.refused and figure in answer.answer, (question, answer.answer)
    assert "210家" not in assistant.ask("眉山2025年计划新认定多少家高新技术企业？").answer
    assert "1.93%" not in assistant.ask("眉山研发投入强度的目标是多少？").answer  # the 2024 base is no target
    # ...and, as a rule: a clause about a year before the plan's own gives way to a target saying as much
    from rag.answer import ScoredClause
    from rag.chunking import Clause
    from rag.clause_years import targets_before_bases

    doc = assistant.index.document("meishan_2025_st_work_points")

    def scored(quote):
        start = doc.text.index(quote)
        sentence_start = doc.text.rfind("\n", 0, start) + 1
        c = Clause(f"x#{start}", "", doc.doc_id, start, start + len(quote), quote, sentence_start,
                   doc.text.index("。", start) + 1)
        return ScoredClause(c, 1.0, 1.0, frozenset({0}), 0, 1.0, 0.8, True, 1.0, frozenset({0}))

    base, target = scored("全市研发投入强度为1.93%"), scored("全市研发投入强度力争达到2.1%")
    assert targets_before_bases(assistant.index, [base, target], "眉山研发投入强度的目标是多少") == [target]
    assert targets_before_bases(assistant.index, [base, target], "眉山研发投入强度是多少") == [base, target]
    assert targets_before_bases(assistant.index, [base], "眉山研发投入强度的目标是多少") == [base]  # nothing better
    # A news item of 2025 reporting 去年's figure answers a question about 2024 (no "2024年" in its text).
    news = ("全市科技创新大会召开\n发布时间：2025-02-10 09:30　来源：眉山日报\n"
            "本报讯 2月9日，全市科技创新大会召开。会议指出，去年全市技术合同成交额达到28.6亿元。\n")
    assistant.add_document("meishan_2025_st_conference_news.txt", news.encode("utf-8"))
    answer = assistant.ask("眉山2024年技术合同成交额是多少？")
    assert not answer.refused and "28.6亿元" in answer.answer, answer.answer


def test_applications_and_totals_never_answer_for_new_certifications(workspace):
    """"认定申报96家" counts applications and "总数1 205家" a stock: a question for the enterprises newly certified
    is refused when the plan gives neither, and one for those in force gets the stock, not the applications."""
    assistant = Assistant.from_settings(workspace.settings)
    text = ("泸州市科学技术局2025年上半年工作总结\n一、主要成效\n上半年，全市高新技术企业认定申报96家。"
            "截至6月底，全市有效期内高新技术企业总数1 205家。\n")
    assistant.add_document("luzhou_2025_h1_st_work_summary.txt", text.encode("utf-8"))
    assert assistant.ask("泸州2025年上半年新认定了多少家高新技术企业？").refused
    answer = assistant.ask("How many high-tech enterprises did Luzhou have at the end of June 2025?").answer
    assert "1 205家" in answer and "96家" not in answer
    assert "96家" in assistant.ask("泸州上半年有多少家企业申报高新技术企业认定？").answer
