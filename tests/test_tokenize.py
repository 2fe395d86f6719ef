"""jieba tokenisation with indicator terms learnt from the documents."""

from __future__ import annotations

import pytest

from rag.documents import load_documents
from rag.tokenize import Tokenizer, learn_indicator_terms

from .conftest import DOCUMENTS


@pytest.fixture(scope="module")
def terms():
    documents, _ = load_documents(DOCUMENTS)
    return learn_indicator_terms([d.clean_text for d in documents])


def test_indicator_terms_are_learnt_from_the_documents(terms):
    for term in ("技术合同成交额", "高新技术企业", "科技型中小企业", "技术交易额"):
        assert term in terms
    # fragments that always follow the same character are not terms
    assert "定高新技术企业" not in terms


def test_indicator_is_one_token_and_scripts_agree(terms):
    tk = Tokenizer(terms)
    assert "技术合同成交额" in tk("全市技术合同成交额突破92亿元")
    assert tk("紹興技術交易額") == tk("绍兴技术交易额")
    words = tk("R&D经费占GDP比重达到3.3%")
    assert "r&d" in words and "3.3%" in words and "gdp" in words


def test_stopwords_and_single_characters_are_dropped(terms):
    tk = Tokenizer(terms)
    assert tk("是多少?的了吗") == []


def test_indicator_terms_are_looked_up_lowercased():
    """Answers ask, per question, which indicator terms contain a part of another (技术交易额 holds 交易额)."""
    tk = Tokenizer(["技术合同成交额", "技术交易额", "R&D经费投入"])
    assert tk.indicator_terms == {"技术合同成交额", "技术交易额", "r&d经费投入"}
    assert tk.indicators_containing("交易额") == {"技术交易额"}
    assert tk.indicators_containing("成交额") == {"技术合同成交额"}
    assert tk.indicators_containing("r&d") == {"r&d经费投入"} and tk.indicators_containing("孵化器") == frozenset()
    assert tk.indicators_containing("交易额") is tk.indicators_containing("交易额")  # remembered
