"""Every word the UI shows, in one place: chat labels per answer language (zh or en), and zh/en pairs for the
parts that are not tied to one answer (buttons, the Documents tab's metadata fields)."""

from __future__ import annotations

import re

__all__ = ["LABELS", "FIELD_LABELS", "UI", "labels", "question_lang", "mode_note"]

# One answer is labelled in its own language.
LABELS = {
    "zh": {
        "sources": "参考来源", "refused": "未找到 · 文件中没有答案", "reason": "原因", "document": "文件",
        "city": "地点", "year": "年份", "section": "章节", "source": "来源文件", "offsets": "位置",
        "mode": "生成方式", "support": "支持度", "error": "出错了",
        "no_context": "（原文已不在索引中，仅显示引文）", "chars": "字符", "page": "页码", "page_n": "第{n}页",
        "details": "详情", "copy": "复制",
        "support_means": "最相关段落覆盖了问题中多少关键词（越少见的词权重越大）。", "support_min": "低于 {min}% 时不作回答。",
        "mode_extractive": "抽取式：逐字引用原文", "mode_llm": "LLM 改写，已核对每个数字和引用都出自所引原文",
        "fell_back_grounding": "LLM 的回答未通过引文核对，下面是抽取式答案。",
        "fell_back_call": "LLM 调用失败，下面是抽取式答案。",
        "generating": "LLM 生成中…（尚未核对引用）", "stopped": "已停止生成，保留抽取式答案。",
        "llm_unavailable": "LLM 不可用，显示抽取式答案：",
    },
    "en": {
        "sources": "Sources", "refused": "Not in the documents", "reason": "Reason", "document": "Document",
        "city": "Place", "year": "Year", "section": "Section", "source": "Source file", "offsets": "Offsets",
        "mode": "Mode", "support": "Support", "error": "Error",
        "no_context": "(the document is no longer indexed; showing the quote only)", "chars": "characters",
        "page": "Page", "page_n": "p. {n}",
        "details": "Details", "copy": "Copy",
        "support_means": "how much of the question's key terms the best passage covers (rarer terms weigh more).",
        "support_min": "Below {min}% the assistant does not answer.",
        "mode_extractive": "extractive: verbatim quotes from the documents",
        "mode_llm": "rephrased by the LLM, checked that every number and [n] comes from the quoted passages",
        "fell_back_grounding": "The LLM's answer failed the citation check; this is the extractive answer.",
        "fell_back_call": "The LLM call failed; this is the extractive answer.",
        "generating": "LLM generating… (not yet checked against the quotes)",
        "stopped": "Generation stopped; the extractive answer stands.",
        "llm_unavailable": "The LLM is not available; showing the extractive answer: ",
    },
}

# The Documents tab's metadata fields (rag.metadata.DocumentMetadata and Assistant.documents()), zh + en.
FIELD_LABELS = {
    "title": "标题 title", "kind": "类型 kind", "place": "地点 place", "province": "省份 province",
    "city": "城市 city", "district": "区县 district", "level": "级别 level", "place_code": "区划代码 place code",
    "year": "年份 year", "years": "覆盖年份 years", "period": "规划期 period", "issuer": "发文机关 issuer",
    "issue_date": "成文日期 issued", "published": "发布日期 published", "printed": "印发日期 printed",
    "doc_number": "文号 number", "outlet": "来源 outlet", "reporter": "记者 reporter", "speaker": "报告人 speaker", "venue": "会议 venue",
    "source": "文件 file", "doc_id": "doc_id", "chunks": "块 chunks", "characters": "字符 characters",
}

# Labels not tied to one answer's language.
UI = {
    "stop": "停止 Stop", "export": "导出 Export",
    "preview_pick": "选择文件 Document (preview / remove)",
    "preview_empty": "选择一个文件查看其内容与元数据 · Choose a document to see its text and metadata",
    "read_from": "依据原文 read from", "value": "值 value", "field": "字段 field",
    "text": "全文 Text (highlighted: where each field was read from)",
    "truncated": "（仅显示前 {n:,} 个字符 / showing the first {n:,} characters）",
    "export_title": "policy-rag 对话记录 · Chat", "question": "问 Question", "answer": "答 Answer",
    "exported": "导出时间 exported",
}


def labels(lang: str | None) -> dict[str, str]:
    return LABELS["en" if (lang or "").lower().startswith("en") else "zh"]


def question_lang(text: str) -> str:
    return "zh" if re.search(r"[\u4e00-\u9fff]", text or "") else "en"


def mode_note(mode: str, lang: str) -> str | None:
    """What a user should know about how an answer was made: only when an LLM answer was asked for and not kept
    (rag/generation.py writes the mode "extractive (LLM answer failed grounding: …)" or "(LLM call failed: …)")."""
    L = labels(lang)
    if mode.startswith("extractive (LLM answer failed grounding"):
        return L["fell_back_grounding"]
    if mode.startswith("extractive (LLM call failed"):
        return L["fell_back_call"]
    return None
