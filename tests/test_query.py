"""Question analysis: cities in any script, places outside the corpus, years, plan kinds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.documents import DocumentMetadata
from rag.query import CityCatalog, PlaceCatalog, analyse_query


@pytest.fixture(scope="module")
def tools(assistant):
    return assistant.index.tokenizer, CityCatalog.from_metadata([d.metadata for d in assistant.index.documents.values()])


@pytest.mark.parametrize("question, cities", [
    ("绍兴2025年技术交易额目标是多少?", ("绍兴",)),
    ("What is Shaoxing's 2025 technology transaction target?", ("绍兴",)),
    ("紹興2025年技術交易額目標", ("绍兴",)),
    ("Compare Yingtan and Ganzhou", ("鹰潭", "赣州")),
    ("南昌市2015年专利申请量", ("南昌",)),
])
def test_cities(tools, question, cities):
    tk, catalog = tools
    assert analyse_query(question, catalog, tk).cities == cities


@pytest.mark.parametrize("question, place", [
    ("杭州2025年高新技术企业目标?", "杭州"),
    ("九江市2025年科技型中小企业入库目标", "九江"),
    ("How many high-tech enterprises does Hangzhou plan for 2025?", "杭州"),
])
def test_places_outside_the_corpus(tools, question, place):
    tk, catalog = tools
    q = analyse_query(question, catalog, tk)
    assert q.cities == (place,) and q.unknown_places == (place,)


def test_years_kinds_language_and_figure_intent(tools):
    tk, catalog = tools
    q = analyse_query("赣州“十四五”实施方案到2025年技术合同成交额目标是多少?", catalog, tk)
    assert q.years == (2025,) and "十四五" in q.kinds and "实施方案" in q.kinds
    assert q.wants_figure and q.lang == "zh"
    assert analyse_query("What is Shaoxing's 2025 target?", catalog, tk).lang == "en"
    assert analyse_query("《2025年鹰潭市科技工作意见》的成文日期是哪天?", catalog, tk).asks_for == "issue_date"
    en = analyse_query("What is Shaoxing's technology transaction target?", catalog, tk)
    assert any("技术交易额" in g for g in en.term_groups)  # English terms bridged to Chinese forms


def test_catalog_comes_from_metadata_not_a_fixed_list(tools):
    tk, _ = tools
    catalog = CityCatalog.from_metadata([DocumentMetadata(title="2025年宁波市科技工作要点", city="宁波")])
    assert catalog.cities == ["宁波"] and catalog.english["宁波"] == "Ningbo"
    q = analyse_query("Ningbo's 2025 patents target", catalog, tk)
    assert q.cities == ("宁波",) and q.unknown_places == ()


def test_shorthand_matches_full_forms(tools):
    tk, catalog = tools
    q = analyse_query("绍兴打算让多少企业新认定为高企?", catalog, tk)
    assert any("高新技术企业" in g and "高企" in g for g in q.term_groups)


@pytest.fixture(scope="module")
def levels():
    """A corpus of a district plan, a province plan and a city plan (metadata only; place codes from the gazetteer)."""
    return PlaceCatalog.from_metadata({
        "dongtou": DocumentMetadata(title="洞头区科技创新实施方案", district="洞头区", city="温州", province="浙江"),
        "hainan": DocumentMetadata(title="海南省科技创新规划", province="海南"),
        "ganzhou": DocumentMetadata(title="2025年全市科技工作要点", city="赣州", province="江西"),
        "xilingol": DocumentMetadata(title="锡林郭勒盟科学技术局2024年工作总结", city="锡林郭勒", province="内蒙古"),
    })


def test_plans_at_and_within_a_place(levels):
    """A place's own plans, and those of it and every place inside it (looked up, not searched per question)."""
    zhejiang, wenzhou, dongtou = ("330000", "330300", "330305")
    assert levels.docs_at(dongtou) == levels.docs_within(dongtou) == {"dongtou"}
    assert levels.docs_at(wenzhou) == levels.docs_at(zhejiang) == set()
    assert levels.docs_within(wenzhou) == levels.docs_within(zhejiang) == {"dongtou"}
    assert levels.docs_within("360000") == levels.docs_at("360700") == {"ganzhou"}  # 江西 > 赣州
    assert levels.docs_within("110000") == set()  # 北京: no plan
    got = levels.docs_within(zhejiang)
    got.add("x")  # a caller's set, not the catalog's
    assert levels.docs_within(zhejiang) == {"dongtou"}


@pytest.mark.parametrize("question, labels", [
    ("洞头2025年研发投入目标", ("温州市洞头区",)),          # a county's short form, because it has a plan
    ("洞头区2025年研发投入目标", ("温州市洞头区",)),
    ("海南2025年高新技术企业目标", ("海南省",)),             # 海南: the province, not 海南藏族自治州
    ("浙江省2025年研发投入强度目标", ("浙江省",)),
    ("What is Hainan Province's 2025 target?", ("海南省",)),
    ("What is Dongtou District's R&D target?", ("温州市洞头区",)),
    ("和平发展与技术交易", ()),                             # 和平 is a word here, not 和平区
])
def test_places_at_every_level(tools, levels, question, labels):
    tk, _ = tools
    assert analyse_query(question, levels, tk).cities == labels


@pytest.mark.parametrize("question, written, label", [
    ("赣洲2025年技术合同成交额目标是多少?", "赣洲", "赣州"),
    ("What is Ganzou's 2025 target?", "Ganzou", "赣州"),
    ("What is Xilingol League's 2025 target?", "Xilingol", "锡林郭勒"),  # spelled unlike its pinyin (xilinguole)
])
def test_homophone_near_misses_resolve_to_indexed_places_and_say_so(tools, levels, question, written, label):
    tk, _ = tools
    q = analyse_query(question, levels, tk)
    assert q.cities == (label,) and q.assumed == ((written, label),)


def test_year_with_a_space_and_full_width_digits(tools, levels):
    tk, _ = tools
    assert analyse_query("赣州2022 年技术合同成交额", levels, tk).years == (2022,)
    assert analyse_query("赣州２０２２年技术合同成交额", levels, tk).years == (2022,)


def test_indicator_synonyms_know_which_are_the_same(tools):
    """技术合同成交额 = 技术合同成交金额, but 技术交易额 is another indicator (Shaoxing states both)."""
    tk, catalog = tools
    deal = analyse_query("绍兴2025年技术交易额目标是多少?", catalog, tk)
    assert not any("技术合同成交额" in g for g in deal.term_groups)
    contract = analyse_query("鹰潭2025年技术合同成交额目标是多少?", catalog, tk)
    assert any("技术合同成交金额" in g for g in contract.term_groups)
    assert not any("技术交易额" in g for g in contract.term_groups)


@pytest.fixture(scope="module")
def counties():
    return PlaceCatalog.from_metadata({
        "huantai": DocumentMetadata(title="桓台县科技创新行动方案", district="桓台县", city="淄博", province="山东"),
        "yuhang": DocumentMetadata(title="余杭区政府工作报告", district="余杭区", city="杭州", province="浙江"),
        "enshi": DocumentMetadata(title="恩施州召开科技创新大会", city="恩施", province="湖北"),
    })


def test_a_look_alike_of_an_indexed_county_resolves_and_says_so(tools, counties):
    tk, _ = tools
    q = analyse_query("恒台县2024年全社会研发经费投入强度的目标是多少?", counties, tk)
    assert q.cities == ("淄博市桓台县",) and q.assumed == (("恒台县", "淄博市桓台县"),) and q.unknown_places == ()


def test_a_near_miss_is_a_whole_word_never_a_stretch_across_two(tools):
    """With 桐城 indexed (as it is among thousands of plans), 合同成交额 must not be read as 桐城 (tong-cheng
    straddles 合同|成交额); a near-miss written as a word of its own still is."""
    tk, _ = tools
    tongcheng = PlaceCatalog.from_metadata({
        "tongcheng": DocumentMetadata(title="桐城市科技创新行动方案", district="桐城市", city="安庆", province="安徽")})
    assert analyse_query("2025年技术合同成交额目标是多少?", tongcheng, tk).cities == ()
    q = analyse_query("桐成2025年技术合同成交额目标是多少?", tongcheng, tk)
    assert q.cities == ("安庆市桐城市",) and q.assumed == (("桐成", "安庆市桐城市"),)


def test_an_english_district_with_no_plan_is_read_and_refused_by_name(tools, counties):
    tk, _ = tools
    q = analyse_query("What is Linping District's 2024 target for newly certified high-tech enterprises?", counties, tk)
    assert q.cities == ("杭州市临平区",) and q.unknown_places == ("杭州市临平区",)


def test_level_words_and_filler_after_an_english_place_are_not_terms(tools, counties):
    tk, _ = tools
    q = analyse_query("How many high-tech enterprises did Enshi Prefecture as a whole have at the end of 2023?",
                      counties, tk)
    assert q.cities == ("恩施",)
    assert [g for g in q.term_groups if "高新技术企业" not in g] == []


def test_name_questions_look_for_a_quoted_name_with_the_asked_head(tools, counties):
    tk, _ = tools
    q = analyse_query("昆山市科技局实施的人才计划叫什么名字?", counties, tk)
    assert q.wants_names and ("计划”", "”计划") in q.term_groups
    assert not any("科技局" in t for t in q.terms)  # the issuer is not a word the answer must contain
    q = analyse_query("桓台县科技创新赋能产业升级三年行动方案里,引进高层次人才的工程叫什么?", counties, tk)
    assert ("工程”", "”工程") in q.term_groups and ("行动”", "”行动") not in q.term_groups


@pytest.mark.parametrize("question", [
    "What is the talent programme in Huantai's action plan called?",
    "Which talent programme does Huantai's action plan implement to bring in leading talents?",
])
def test_an_english_name_question_looks_for_a_quoted_name_with_either_head(tools, counties, question):
    """"programme" may be a 计划 or a 工程: one asked-for name with either head; "called" is no search word."""
    tk, _ = tools
    q = analyse_query(question, counties, tk)
    assert q.wants_names and ("计划”", "”计划", "工程”", "”工程") in q.term_groups
    assert not any("召开" in g for g in q.term_groups)


def test_a_question_for_two_metadata_fields_asks_for_both(tools, counties):
    tk, _ = tools
    q = analyse_query("广西科技创新“十四五”规划是由哪个机关印发的?文号是什么?", counties, tk)
    assert set(q.asks_for_all) == {"issuer", "doc_number"}
    assert analyse_query("What is the document number of Huantai's action plan?", counties, tk).asks_for == "doc_number"


@pytest.mark.parametrize("question, field", [
    ("余杭区2024年政府工作报告是谁作的?", "speaker"),
    ("Who delivered Yuhang District's 2024 government work report?", "speaker"),
    ("桓台县行动方案的印发日期是哪天?", "printed"),
    ("According to the colophon, on what date was Huantai's action plan printed and distributed?", "printed"),
    ("恩施州科技创新大会的消息来源是哪家报纸?", "outlet"),
    ("Which newspaper reported Enshi's conference?", "outlet"),
    ("恩施州科技创新大会的报道记者是谁?", "reporter"),
])
def test_publication_record_questions_ask_for_their_field(tools, counties, question, field):
    tk, _ = tools
    q = analyse_query(question, counties, tk)
    assert q.asks_for == field and q.asks_for_all == (field,), (q.asks_for, q.asks_for_all)


def test_a_newspaper_and_its_reporter_asked_together_are_both_answered(tools, counties):
    tk, _ = tools
    q = analyse_query("Which newspaper published the report on Enshi's conference, and who was the reporter?", counties, tk)
    assert set(q.asks_for_all) == {"outlet", "reporter"}


def test_when_an_event_took_place_is_read_from_the_text_not_the_document_date(tools, counties):
    tk, _ = tools
    q = analyse_query("恩施州2024年科技创新大会是哪天召开的?", counties, tk)
    assert q.asks_for is None and q.wants_figure and q.figure_kind == "date"
    # a document is signed, not held: its own date answers
    q = analyse_query("On what date was Huantai's action plan signed (not the date it was posted online)?", counties, tk)
    assert q.asks_for == "issue_date"
    # "date" is a question word, not a term to find (it bridged to 有效期 / 定期 before)
    q = analyse_query("On what date was Enshi's 2024 S&T innovation conference held?", counties, tk)
    assert q.figure_kind == "date" and not any("定期" in g or "有效期" in g for g in q.term_groups)


def test_a_city_whose_short_form_is_an_ordinary_word_is_read_when_it_has_a_plan(tools):
    tk, _ = tools
    with_plan = PlaceCatalog.from_metadata({"datong": DocumentMetadata(title="大同市2024年科技工作要点", city="大同",
                                                                       province="山西", place="大同市",
                                                                       place_code="140200", level="city")})
    q = analyse_query("大同2024年和鹰潭2025年的技术合同成交额目标分别是多少?", with_plan, tk)
    assert q.cities == ("大同", "鹰潭")
    without = PlaceCatalog.from_metadata({"yt": DocumentMetadata(title="2025年鹰潭市科技工作意见", city="鹰潭",
                                                                 province="江西")})
    assert analyse_query("大同2024年技术合同成交额目标是多少?", without, tk).cities == ()  # an ordinary word then


@pytest.mark.parametrize("question, town", [
    ("江阴周庄镇2024年计划新增多少家高新技术企业?", "周庄镇"),  # jieba tags it a person's name
    ("江阴新桥街道2024年技术交易额目标?", "新桥街道"),  # and splits 新桥 / 街道
    ("How many new high-tech enterprises does Zhouzhuang town (周庄镇) plan to add in 2024?", "周庄镇"),
])
def test_a_township_below_the_gazetteer_is_a_place_with_no_plan(tools, counties, question, town):
    tk, _ = tools
    assert town in analyse_query(question, counties, tk).unknown_places
    for plain in ("推动乡村振兴和城乡融合的目标是多少?", "2025年全市乡镇科技特派员多少名?", "特色小镇建设目标?"):
        assert analyse_query(plain, counties, tk).unknown_places == (), plain


def test_a_parent_written_after_a_place_only_qualifies_it(tools, levels):
    tk, _ = tools
    q = analyse_query("What is the 2025 target of Duolun County (多伦县) in Xilingol?", levels, tk)
    assert q.cities == ("锡林郭勒盟多伦县",) and q.unknown_places == ("锡林郭勒盟多伦县",)
    q = analyse_query("洞头区，温州市，2025年研发投入目标", levels, tk)
    assert q.cities == ("温州市洞头区",)


def test_a_quoted_plan_title_is_no_words_to_search_for_in_that_plan(tools, levels):
    from rag.query import without_title_words

    tk, _ = tools
    q = analyse_query("洞头区科技型企业倍增行动方案提出，到2026年高新技术企业要达到多少家？", levels, tk)
    narrowed = without_title_words(q, ["洞头区科技型企业倍增行动方案（2024—2026年）"])
    assert any("高新技术企业" in g for g in narrowed.term_groups)
    assert not any("倍增" in g for g in narrowed.term_groups) and any("倍增" in g for g in q.term_groups)
    # a word the question also uses outside the quoted title stays
    q = analyse_query("洞头区科技型企业倍增行动方案中，科技型企业要达到多少家？", levels, tk)
    assert any("科技型企业" in g for g in without_title_words(q, ["洞头区科技型企业倍增行动方案"]).term_groups)


def test_what_a_question_says_it_does_not_want_is_no_search_word(tools, levels):
    tk, _ = tools
    q = analyse_query("How much R&D spending (in money, not intensity) did Dongtou District report for 2023?", levels, tk)
    assert q.figure_kind == "money" and not any("强度" in g for g in q.term_groups)


def test_year_end_words_are_when_not_what(tools, levels):
    tk, _ = tools
    q = analyse_query("洞头区2023年底有多少家高新技术企业？", levels, tk)
    assert q.years == (2023,) and all("底" not in t for t in q.terms)


def test_plan_kinds_from_the_data_file_are_not_search_words(tools, levels):
    tk, _ = tools
    q = analyse_query("What target for invention patents per 10,000 people does Dongtou's action plan set?", levels, tk)
    assert not any("行动计划" in g or "行动方案" in g for g in q.term_groups)
    assert not any("设立" in g for g in q.term_groups)  # "set" a target: boilerplate, not what is asked
    assert any("专利" in g for g in q.term_groups)


def test_a_river_is_no_place_and_a_pinyin_name_may_carry_a_chinese_suffix(tools, levels):
    tk, _ = tools
    changyang = PlaceCatalog.from_metadata({
        "cy": DocumentMetadata(title="政府工作报告", district="长阳土家族自治县", city="宜昌", province="湖北")})
    q = analyse_query("Changyang县2025年要依托清江流域生态资源建设哪个研究院？", changyang, tk)
    assert q.cities == ("宜昌市长阳土家族自治县",) and q.assumed == ()  # 长 reads chang here: an exact spelling
    assert q.unknown_places == ()  # 清江流域 is a river basin, not a place without a plan


@pytest.mark.parametrize("question, fields", [
    ("盐城召开全市科技创新大会的新闻稿来源是哪家媒体？什么时候发布的？", {"outlet", "issue_date"}),
    ("《蜀山区科技成果转化三年行动方案》是哪一天印发的？", {"issue_date", "printed"}),  # signed, or the colophon's
    ("桓台县行动方案是哪天印发的?", {"issue_date", "printed"}),
])
def test_when_a_page_was_published_is_not_when_the_event_took_place(tools, levels, question, fields):
    tk, _ = tools
    assert set(analyse_query(question, levels, tk).asks_for_all) == fields


def test_issued_by_in_passing_is_no_question_about_the_issuer(tools, levels):
    tk, _ = tools
    q = analyse_query("Under the 2025 work opinions issued by Dongtou's science bureau, what reward does a newly "
                      "recognised high-tech enterprise receive?", levels, tk)
    assert q.asks_for is None
    assert analyse_query("Which body issued Dongtou's 2025 work points?", levels, tk).asks_for == "issuer"


def test_a_standard_indicator_asked_in_plain_english_reaches_its_chinese_words(tools, levels):
    tk, _ = tools
    q = analyse_query("By 2025, how many full-time-equivalent research staff should Hainan have for every 10,000 "
                      "people in jobs?", levels, tk)
    terms = {t for g in q.term_groups for t in g}
    assert {"研发人员", "就业人员", "每万", "人年"} <= terms


@pytest.mark.parametrize("question", ["What total number of high-tech enterprises does Dongtou aim for in 2025?",
                                      "How large is the fund Dongtou District will set up?",
                                      "How big is the fund cluster Dongtou plans?"])
def test_a_size_or_total_asked_in_english_is_a_figure_question(tools, levels, question):
    tk, _ = tools
    assert analyse_query(question, levels, tk).wants_figure


def test_an_english_plan_kind_chooses_documents_and_is_no_search_word(tools, counties):
    """"government work report" names the kind of plan (政府工作报告), not words a passage must hold."""
    tk, _ = tools
    q = analyse_query("What R&D intensity does Shaoxing's 2025 government work report aim for?", counties, tk)
    assert not any(t in ("政府", "报告", "申报") for g in q.term_groups for t in g)
    assert any("研发投入强度" in g for g in q.term_groups)


@pytest.mark.parametrize("question, fields", [
    ("Which office submitted Anji's progress report for January–September 2024, and when?", {"issuer", "issue_date"}),
    ("Who reported the story on Enshi's conference, and which paper ran it?", {"reporter", "outlet"}),
])
def test_who_submitted_and_who_reported_are_metadata_questions(tools, counties, question, fields):
    tk, _ = tools
    assert set(analyse_query(question, counties, tk).asks_for_all) == fields


def test_dictionary_guesses_at_english_words_are_marked_and_weigh_less(assistant):
    """CC-CEDICT's forms for "send"/"villages" are guesses: they count less than the glossary's 科技特派员 when
    judging whether a passage answers, and "share" (what kind of figure is asked) gives no search words."""
    from rag.answer import GUESSED_WEIGHT, term_weights

    q = assistant.analyse("How many technical advisers does Shaoxing plan to send to the villages every year?")
    advisers = next(g for g in q.term_groups if "科技特派员" in g)
    assert advisers not in q.guessed and q.guessed and all(g in q.term_groups for g in q.guessed)
    plain = term_weights(assistant.index, replace(q, guessed=frozenset()))
    weighed = term_weights(assistant.index, q)
    for group, w, full in zip(q.term_groups, weighed, plain):
        assert w == pytest.approx(full * (GUESSED_WEIGHT if group in q.guessed else 1.0))
    q = assistant.analyse("What share of Shaoxing's residents should be scientifically literate by 2025?")
    assert [g for g in q.term_groups if "科学素质" not in g] == []


@pytest.mark.parametrize("question", ["广西“十四五”末每万名就业人员中研发人员要达到多少?",
                                      "By the end of its 14th Five-Year period, how many researchers does Guangxi want?"])
def test_the_end_of_a_five_year_period_is_its_last_year(tools, counties, question):
    tk, _ = tools
    assert analyse_query(question, counties, tk).years == (2025,)


@pytest.mark.parametrize("question, unknown", [
    ("What R&D intensity does Fooburg aim to reach in 2025?", ("Fooburg",)),
    ("What is Zorgov's 2025 R&D intensity target?", ("Zorgov",)),
    ("What is the R&D intensity target of Blah County for 2025?", ("Blah",)),
    ("What is Enshi's 2025 technology transaction target?", ()),
    ("How many incubators did the plan list in March 2025?", ()),
])
def test_an_english_name_given_as_a_place_that_no_division_matches_is_unknown(tools, counties, question, unknown):
    """Answering it from the other plans would answer for the wrong place: it is refused by name instead."""
    tk, _ = tools
    assert analyse_query(question, counties, tk).unknown_places == unknown


def test_which_two_bodies_issued_is_an_issuer_question(tools, counties):
    tk, _ = tools
    assert analyse_query("《2024年天津市科技创新发展统计公报》是由哪两个单位发布的？", counties, tk).asks_for == "issuer"


def test_a_quoted_word_is_searched_however_short(tools):
    """The tokenizer drops single characters; a word the asker quotes ("发多少钱的“券”") is the one they mean."""
    tk, catalog = tools
    assert ("券",) in analyse_query("绍兴今年准备发多少钱的“券”，让中小企业去买检测服务？", catalog, tk).term_groups
    assert ("券",) not in analyse_query("绍兴今年准备发多少钱的券？", catalog, tk).term_groups


def test_naming_a_quantity_prefers_its_figure(tools):
    """"What was X's 技术交易额 in 2024" asks for the figure, not the note that defines the indicator."""
    tk, catalog = tools
    assert analyse_query("What was Shaoxing's technology transaction value (技术交易额) in 2024?", catalog, tk
                         ).prefers_figure
    assert not analyse_query("绍兴的人才政策有哪些?", catalog, tk).prefers_figure


def test_what_is_not_asked_may_take_three_words(tools):
    tk, catalog = tools
    q = analyse_query("What was Shaoxing's technology transaction value in 2024, not the overall contract turnover?",
                      catalog, tk)
    assert not any("合同" in t for g in q.term_groups for t in g)


def test_net_growth_asks_for_what_was_added_net(tools):
    tk, catalog = tools
    for question in ("By how many did Shaoxing's high-tech enterprises grow, net, in 2024?",
                     "What was the net increase in Shaoxing's high-tech enterprises?"):
        assert ("净增",) in analyse_query(question, catalog, tk).term_groups


def test_each_place_of_a_comparison_takes_its_own_years_and_each_year_means_all(tools):
    tk, catalog = tools
    q = analyse_query("How many S&T envoys do Ganzhou (2025), Nanchang (2015) and Shaoxing (each year) send?",
                      catalog, tk)
    assert sorted(y for _, y, _ in q.scopes) == [(), (2015,), (2025,)]
    q = analyse_query("鹰潭和绍兴2025年技术合同成交额目标分别是多少？", catalog, tk)
    assert [y for _, y, _ in q.scopes] == [(2025,), (2025,)]  # a place with none shares the next one's


def test_universities_institutes_and_part_time_reach_the_plans_words(tools):
    tk, catalog = tools
    q = analyse_query("How many university and institute experts will Shaoxing send to companies part-time?", catalog, tk)
    assert any("高校院所" in g for g in q.term_groups) and ("兼职",) in q.term_groups
