"""Document metadata from arbitrary text: one test per failure class seen on unseen documents (issue #7).

Fixtures are small invented texts; every field must also point at the span it was read from.
"""

from __future__ import annotations

import pytest

from rag.documents import clean_spans
from rag.metadata import extract_metadata
from rag.places import gazetteer


def meta(text: str, suffix: str = ".txt", name: str = "some_file_name"):
    return extract_metadata(text, clean_spans(text, suffix), fallback_title=name)


def test_place_named_only_once_is_found_and_at_its_level():
    text = ("2024年全市科技工作要点\n"
            "2024年是关键之年。全市科技工作要奋力谱写中国式现代化九江篇章。\n"
            "一、主要目标\n全市技术合同成交额达到50亿元，全市高新技术企业达到600家。\n")
    m = meta(text)
    assert (m.place, m.level, m.city, m.province) == ("九江市", "city", "九江", "江西")
    s, e = m.evidence["place"]
    assert text[s:e] == "九江"


def test_no_place_is_read_from_inside_another_word():
    text = ("2024年全区科技创新工作报告\n全区加快建设现代化滨海大都市，推动科技创新。\n"
            "北仑区科学技术局\n2024年1月5日\n")
    m = meta(text)
    assert m.place == "北仑区" and m.city == "宁波" and m.province == "浙江"  # never "大都"


def test_district_plan_is_the_districts_with_its_parents():
    text = ("温州市洞头区科技创新实施方案（2023—2027年）\n为推动全区科技创新，制定本方案。\n"
            "到2027年，全区研发投入强度达到3%。\n")
    m = meta(text)
    assert (m.place, m.level, m.district, m.city, m.province) == ("洞头区", "county", "洞头区", "温州", "浙江")
    assert m.years == (2023, 2024, 2025, 2026, 2027) and m.year == 2027 and m.kind == "实施方案"


def test_provincial_plan_is_the_provinces_not_its_capitals():
    text = ("海南省“十四五”科技创新规划\n全省科技创新……海口、三亚协同发展，海口市建设创新高地。\n"
            "海南省人民政府办公厅\n2021年9月1日\n")
    m = meta(text)
    assert (m.place, m.level, m.city, m.province) == ("海南省", "province", None, "海南")
    assert m.period == "十四五" and m.year == 2025 and m.issuer == "海南省人民政府办公厅"


def test_news_item_gets_its_place_title_and_kind():
    text = ("成都召开2024年科技创新大会\n来源：四川日报 发布时间：2024-03-02\n"
            "本报讯（记者 张三）3月1日，成都市召开科技创新大会。全市全社会研发投入强度达到3.6%。\n")
    m = meta(text)
    assert m.title == "成都召开2024年科技创新大会" and m.kind == "新闻"
    assert (m.city, m.province) == ("成都", "四川")


def test_province_comes_from_the_place_never_from_a_prefix():
    text = "2025年上饶市科技工作要点\n全市……对接上海、融入长三角。\n上饶市科学技术局\n"
    m = meta(text)
    assert (m.city, m.province) == ("上饶", "江西")  # not 上海


@pytest.mark.parametrize("text, suffix, title", [
    ("关于印发《2024年芜湖市科技创新工作要点》的通知\n各县区科技局：\n现将《2024年芜湖市科技创新工作要点》印发给你们。\n"
     "芜湖市科学技术局\n2024年2月26日\n2024年芜湖市科技创新工作要点\n一、总体要求\n", ".txt", "2024年芜湖市科技创新工作要点"),
    ("<html><head><title>泉州市科技型企业培育行动方案_泉州市人民政府</title></head><body><nav>首页 > 政务公开</nav>"
     "<h1>泉州市科技型企业培育行动方案</h1><p>全市科技型企业达到1500家。</p></body></html>", ".html",
     "泉州市科技型企业培育行动方案"),
    ("# 嘉兴市海盐县科技创新赋能高质量发展实施方案（2023—2027年）\n\n为深入实施创新驱动发展战略……\n", ".md",
     "嘉兴市海盐县科技创新赋能高质量发展实施方案（2023—2027年）"),
])
def test_title_from_the_text_never_the_file_name(text, suffix, title):
    m = meta(text, suffix)
    assert m.title == title
    s, e = m.evidence["title"]
    assert text[s:e] == title


def test_years_and_dates_robust_to_spaces_full_width_and_chinese_numerals():
    m = meta("２０２４年泉州市科技工作要点\n全市……\n泉州市科学技术局\n二〇二四年五月八日\n")
    assert m.year == 2024 and m.issue_date == "2024-05-08"
    m = meta("2022 年 全市科技工作要点\n全市……\n鹰潭市科技局\n2022 年 3 月 7 日\n")
    assert m.year == 2022 and m.issue_date == "2022-03-07"


def test_traditional_text_is_read_with_offsets_into_the_original():
    text = "2024年紹興市科技創新工作要點\n全市……\n紹興市科學技術局\n"
    m = meta(text)
    assert m.city == "绍兴" and m.kind == "工作要点"
    s, e = m.evidence["title"]
    assert text[s:e] == m.title == "2024年紹興市科技創新工作要點"


@pytest.mark.parametrize("name, level, label", [
    ("洞头区", "county", "温州市洞头区"), ("洞头", "county", "温州市洞头区"), ("浙江", "province", "浙江省"),
    ("九江", "city", "九江"), ("内蒙古", "province", "内蒙古自治区"), ("延边", "city", "延边"),
])
def test_gazetteer_short_forms_levels_and_labels(name, level, label):
    place = gazetteer().lookup(name)[0]
    assert place.level == level and gazetteer().label(place) == label


def test_district_review_without_a_title_place_uses_its_issuer():
    text = ("2023年科技创新工作回顾\n过去一年，全区上下……合肥高新区协同发展。\n"
            "二、主要成效\n全区高新技术企业达到820家。\n合肥市蜀山区科学技术局\n2024年1月10日\n")
    m = meta(text)
    assert (m.place, m.level, m.city, m.province) == ("蜀山区", "county", "合肥", "安徽")
    assert m.issuer == "合肥市蜀山区科学技术局" and m.kind == "工作总结"


def test_news_headline_wins_when_the_byline_is_page_furniture():
    # 发布时间/来源 lines are cruft (not clean spans); a 《》 in a related-news box must not become the title.
    text = ("首页 > 新闻中心 > 要闻\n\n恩施州召开2024年全州科技创新大会\n奋力建设科技创新高地\n\n"
            "发布时间:2024-02-28 08:45    来源:恩施日报\n\n本报讯 2月27日,全州科技创新大会召开。"
            "会议印发了《恩施州科技特派员管理办法(修订)》。高新技术企业总数达到312家。\n")
    m = meta(text)
    assert m.title == "恩施州召开2024年全州科技创新大会" and m.kind == "新闻"


def test_government_work_report_is_its_own_kind():
    m = meta("2024年杭州市余杭区政府工作报告(科技创新部分摘编)\n全年实现技术交易额318.6亿元。\n")
    assert m.kind == "政府工作报告" and m.place == "余杭区"


def test_document_number_and_an_issuer_line_that_carries_the_date():
    text = ("广西科技创新“十四五”规划\n\n(广西壮族自治区人民政府办公厅2021年10月15日印发  桂政办发〔2021〕87号)\n\n"
            "一、发展基础\n全区研发经费投入强度达到1.5%。\n")
    m = meta(text)
    assert m.doc_number == "桂政办发〔2021〕87号" and m.issuer == "广西壮族自治区人民政府办公厅"
    s, e = m.evidence["doc_number"]
    assert text[s:e] == m.doc_number
    assert meta("某市2024年科技工作要点\n一、目标\n索引号：11370321MB2841/2024-00011\n").doc_number is None


def test_colophon_printed_date_page_outlet_and_speaker_are_read_with_their_spans():
    notice = ("桓台县人民政府办公室关于印发桓台县科技创新三年行动方案的通知\n桓政办发〔2024〕11号\n各镇人民政府:\n现印发给你们。\n"
              "桓台县人民政府办公室\n2024年4月2日\n\n一、目标\n高新技术产业产值占比达到62%。\n\n"
              "抄送:县委各部门。\n桓台县人民政府办公室                              2024年4月3日印发\n")
    m = meta(notice)
    assert m.issue_date == "2024-04-02" and m.printed == "2024-04-03"  # signed one day, printed the next
    s, e = m.evidence["printed"]
    assert notice[s:e].startswith("桓台县人民政府办公室") and notice[s:e].endswith("2024年4月3日印发")
    news = ("恩施州召开2024年全州科技创新大会\n发布时间:2024-02-28 08:45    来源:恩施日报    作者:记者 向晓岚\n"
            "本报讯 2月27日,全州科技创新大会在恩施市召开。\n")
    m = meta(news)
    assert m.outlet == "恩施日报" and m.published == "2024-02-28" and m.printed is None
    assert news[slice(*m.evidence["outlet"])] == "来源:恩施日报"
    assert m.reporter == "向晓岚" and news[slice(*m.evidence["reporter"])] == "作者:记者 向晓岚"
    trad = "江陰召開2024年全市科技創新大會\n來源：澄江日報　　記者 顧明遠　通訊員 陸欣\n本報訊　記者從會上獲悉，…\n"
    m = meta(trad)
    assert m.reporter == "顾明远" and trad[slice(*m.evidence["reporter"])] == "記者 顧明遠"
    report = ('<html><body><h1>2024年杭州市余杭区政府工作报告</h1>\n<p style="text-align:center">区长　周明远</p>\n'
              "<p>各位代表:现在,我代表区人民政府作工作报告。</p>\n<p>技术交易额318.6亿元。</p></body></html>")
    m = meta(report)
    assert m.speaker == "周明远" and report[slice(*m.evidence["speaker"])] == "区长　周明远"
    # a title in running text is no speaker line
    assert meta("某区2024年工作要点\n区长周明远同志强调,要抓好科技创新。\n").speaker is None


def test_a_county_level_short_form_opening_the_title_names_the_place():
    m = meta("江陰召開2024年全市科技創新大會 今年技術交易額力爭達到240億元\n來源：澄江日報\n"
             "本報訊　2月20日上午，全市科技創新大會召開。無錫市科技局有關負責人出席。\n")
    assert (m.place, m.city, m.province) == ("江阴市", "无锡", "江苏")
    assert meta("滨海大都市建设2024年科技工作要点\n全市科技创新…\n").place is None  # 滨海 names several places


def test_a_title_opening_with_how_a_prefecture_speaks_of_itself_names_no_county():
    """"全州科技创新大会召开" is 黔东南州's (全州 = the whole prefecture), not 全州县's in Guangxi."""
    m = meta("全州科技创新大会召开\n发布时间：2025-03-06 17:40　来源：黔东南日报\n"
             "本报讯 3月5日，全州科技创新大会在凯里召开。表彰2024年度黔东南州科学技术奖获奖项目。\n"
             "黔东南州将深入实施创新驱动发展战略。\n")
    assert m.place == "黔东南苗族侗族自治州" and m.province == "贵州"


@pytest.mark.parametrize("head, issuer", [
    ("發佈機構：鞏義市科學技術局　　發佈日期：2025-03-03\n", "鞏義市科學技術局"),
    ("**报送单位：** 安吉县科学技术局\n**报送日期：** 2024年10月12日\n", "安吉县科学技术局"),
])
def test_a_labelled_issuer_field_is_read_and_names_the_place(head, issuer):
    """The issuer field of a page or a report (发布机构, 报送单位; also in Markdown bold) names the plan's place
    over a city named twice in passing (鄭州大學)."""
    m = meta("2025年全市科技工作要点\n" + head + "依托郑州大学等高校，主动融入郑州国家中心城市建设。全市高新技术企业达到180家。\n")
    assert m.issuer == issuer and m.place in ("巩义市", "安吉县")


def test_a_labelled_date_is_read_whole():
    text = "天水市“十四五”科技创新规划\n> 成文日期：2021年11月26日　公开日期：2021年12月3日\n正文。\n"
    m = meta(text)
    start, end = m.evidence["issue_date"]
    assert m.issue_date == "2021-11-26" and text[start:end].endswith("26日")  # the quote is the whole date


def test_an_html_signature_and_issuer_inside_elements_are_read():
    html = ('<html><head><title>大同市2024年科技工作要点</title></head><body>\n<div class="info">发布时间：2024-03-15 09:30'
            '　来源：市科技局</div>\n<p>一、目标</p>\n<p>技术合同成交额达到38亿元。</p>\n'
            '<p style="text-align:right">大同市科学技术局<br>2024年3月12日</p>\n</body></html>')
    m = meta(html)
    assert m.issue_date == "2024-03-12" and m.published == "2024-03-15" and m.issuer == "大同市科学技术局"
    assert html[slice(*m.evidence["issue_date"])] == "2024年3月12日"


def test_the_meeting_a_report_was_delivered_at_is_read_from_its_dateline():
    report = ("# 某县2024年政府工作报告\n\n> ——2024年1月11日在县第十七届人民代表大会第四次会议上\n>\n> 县长　王一凡\n\n"
              "各位代表：现在，我代表县人民政府作工作报告。\n")
    m = meta(report)
    assert m.venue == "县第十七届人民代表大会第四次会议" and m.speaker == "王一凡"
    assert report[slice(*m.evidence["venue"])] == m.venue
    speech = "在全市科技创新大会上的讲话\n——2023年2月1日在全市科技创新大会上\n同志们：\n"
    assert meta(speech).venue == "全市科技创新大会"
    # running text that mentions a meeting is no dateline
    assert meta("某市2024年工作要点\n市长在全市科技创新大会上强调，要抓好科技创新。\n").venue is None


def test_a_passage_naming_a_town_is_told_apart_from_one_about_its_county():
    from rag.places import names_township

    assert names_township("从镇街看，2023年周庄镇、新桥镇、华士镇高新技术企业数分别达到68家")
    assert names_township("澄江街道技术交易额达到31亿元")
    assert not any(names_township(t) for t in ("推进新型城镇化建设", "建设特色小镇", "乡村振兴", "全市高新技术企业总数达到836家"))


def test_a_report_titled_by_its_kind_and_dated_by_its_dateline():
    report = ("政府工作报告（科技创新部分摘编）\n\n——2025年1月9日在长阳土家族自治县第十一届人民代表大会第五次会议上\n\n"
              "县长　覃文彬\n\n各位代表：\n\n一、2024年工作回顾\n\n全县研发经费投入4.1亿元。\n")
    m = meta(report)
    assert m.title == "政府工作报告（科技创新部分摘编）"  # not the numbered section "一、2024年工作回顾"
    assert m.issue_date == "2025-01-09" and report[slice(*m.evidence["issue_date"])] == "2025年1月9日"
    assert m.place == "长阳土家族自治县" and m.speaker == "覃文彬"


def test_places_inside_a_plans_place_and_zones_are_told_apart():
    from rag.places import gazetteer, townships_named

    gaz = gazetteer()
    ningxia = gaz.lookup("宁夏回族自治区")[0]
    assert gaz.named_below("到2025年银川市高新技术企业达到320家", ningxia) == ["银川市"]
    assert gaz.named_below("全区高新技术企业达到550家", ningxia) == []
    assert townships_named("2025年，科技城新区高新技术企业达到420家") == ["科技城新区"]


def test_a_zone_is_asked_by_its_name_or_kind_not_by_the_place_it_is_named_after():
    from rag.places import zone_asked, zones_named

    assert zones_named("分区域看，浑南科技城集聚高新技术企业406家") == ["浑南科技城"]
    assert not zone_asked("浑南科技城", "浑南区2024年底高新技术企业总数是多少？")
    assert zone_asked("浑南科技城", "浑南科技城2024年集聚了多少家高新技术企业？")


@pytest.mark.parametrize("name, english", [
    ("长阳土家族自治县", "Changyang County"), ("长治市", "Changzhi"), ("长子县", "Zhangzi County"),
    ("洪洞县", "Hongtong County"), ("绍兴市", "Shaoxing"), ("宁夏回族自治区", "Ningxia Autonomous Region"),
    ("闵行区", "Minhang District"), ("格尔木市", "Golmud"), ("克拉玛依市", "Karamay"), ("木垒哈萨克自治县", "Mulei County"),
])
def test_places_are_named_in_english_as_place_names_are_read(name, english):
    """pypinyin reads 长 as zhang (长阳 -> Zhangyang); in place names it is chang, bar a listed few."""
    place = gazetteer().lookup(name)[0]
    assert gazetteer().english(place) == english


def test_a_dateline_inside_an_html_element_gives_the_venue():
    m = meta("<html><body><h1>2025年汕头市政府工作报告</h1>\n"
             '<p style="text-align:center">——2025年1月20日在汕头市第十五届人民代表大会第五次会议上</p>\n'
             '<p style="text-align:center">市长　林振邦</p>\n<p>各位代表：</p>\n</body></html>\n', suffix=".html")
    assert m.venue == "汕头市第十五届人民代表大会第五次会议" and m.speaker == "林振邦"


def test_a_news_item_with_no_year_in_its_headline_is_of_its_publication_year():
    """It reports last year's results at this year's meeting: 去年/今年 count from its date, not the year it
    mentions most."""
    m = meta("全州科技创新大会召开\n发布时间：2025-03-06 17:40　来源：黔东南日报　作者：记者 杨秀梅\n"
             "本报讯 3月5日，全州科技创新大会在凯里召开。会议总结2024年全州科技创新工作，表彰2024年度获奖项目。\n")
    assert m.kind == "新闻" and m.years == (2025,)



def test_english_exonyms_name_their_places_and_read_back():
    """Names not the pinyin of the Chinese (Golmud for 格尔木, Karamay for 克拉玛依) come from places.json; each
    listed code must still be the place named there in the gazetteer."""
    import json
    from importlib import resources

    gaz = gazetteer()
    listed = json.loads(resources.files("rag").joinpath("data/places.json").read_text(encoding="utf-8"))["english_exonyms"]
    for entry in listed:
        assert gaz.get(entry["code"]).name == entry["name"], entry
        assert gaz.get(entry["code"]) in gaz.by_pinyin(entry["en"][0])


@pytest.mark.parametrize("name, short", [("木垒哈萨克自治县", "木垒"), ("伊犁哈萨克自治州", "伊犁"),
                                         ("塔什库尔干塔吉克自治县", "塔什库尔干"), ("内蒙古自治区", "内蒙古")])
def test_autonomous_places_are_shortened_past_every_ethnic_name(name, short):
    assert gazetteer().lookup(name)[0].short == short


def test_a_report_named_only_in_its_dateline_is_the_congress_places():
    m = meta("政府工作报告（科技创新部分摘编）\n\n——2025年1月14日在格尔木市第十六届人民代表大会第五次会议上\n\n市长　马建宏\n\n"
             "一、2024年工作回顾\n全市盐湖产业技术攻关取得突破，青海省重点实验室落户。青海省科技厅支持…\n")
    assert m.place == "格尔木市" and m.province == "青海"


def test_two_bodies_issuing_jointly_on_one_line_are_both_the_issuer():
    m = meta("2024年天津市科技创新发展统计公报\n\n天津市统计局　天津市科学技术局\n2025年4月28日\n\n　　2024年，全市…\n")
    assert m.issuer == "天津市统计局　天津市科学技术局" and m.place == "天津市"


@pytest.mark.parametrize("byline, reporter", [("作者：记者 艾力·买买提 通讯员 王雪", "艾力·买买提"),
                                              ("作者:记者 向晓岚", "向晓岚"), ("作者：记者 通讯员 王雪", None)])
def test_a_reporter_may_have_a_two_part_name_but_is_never_the_word_reporter(byline, reporter):
    from rag.publication import find_reporter

    assert find_reporter("来源：克拉玛依日报　" + byline)[0] == reporter


def test_a_page_record_line_is_no_title():
    """"發布機構：…　發布日期：…" above the heading is the page's record, not the plan's title (in any script)."""
    text = ("首頁 > 信息公開 > 工作總結\n發布機構：餘姚市科學技術局　　發布日期：2024-12-20　　瀏覽次數：120\n\n"
            "餘姚市科學技術局2024年工作總結和2025年工作思路\n\n一、2024年工作總結\n全年新認定高新技術企業90家。\n")
    m = meta(text)
    assert m.title == "餘姚市科學技術局2024年工作總結和2025年工作思路"
    assert m.years == (2024, 2025) and m.kind == "工作总结" and m.issuer == "餘姚市科學技術局"


def test_an_issuer_field_in_an_html_table_cell_is_read_without_markup():
    text = ("<html><head><title>关于印发某某市支持科技创新若干措施的通知</title></head><body>\n"
            "<table><tr><td>发文机关：</td><td>荆门市人民政府办公室</td></tr></table>\n"
            "<h1>市人民政府办公室关于印发荆门市支持科技创新若干措施的通知</h1>\n<p>各县（市、区）人民政府：</p>\n</body></html>\n")
    m = meta(text, ".html")
    assert m.issuer == "荆门市人民政府办公室" and m.kind == "政策措施"
    s, e = m.evidence["issuer"]
    assert text[s:e] == "荆门市人民政府办公室"


def test_a_zone_is_asked_by_its_short_or_long_name_never_by_a_kind_inside_another():
    from rag.places import zone_asked

    assert zone_asked("大连高新技术产业园区", "大连高新区“十四五”末的高新技术企业目标是多少家？")
    assert zone_asked("襄阳高新区", "襄阳高新技术产业开发区有多少家高企？")
    assert not zone_asked("金普新区", "大连高新区“十四五”末的高新技术企业目标是多少家？")  # 新区 inside 高新区
    assert zone_asked("金普新区", "两个新区的高企目标分别是多少？")
