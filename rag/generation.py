"""Optional LLM answers through a LangChain chat model, held to the extractive answer's citations.

The extractive answerer has already chosen the passages (or refused). The LLM only rephrases from
those passages, numbered [1], [2] … exactly like the extractive `Citation`s. Its answer is kept only if

- every [n] marker refers to one of those citations, and
- every number in it occurs in a cited passage (amount re-renderings such as "45 billion yuan" for
  "450亿元" count as the same number, see rag/numbers.py), and
- every link, e-mail address, Markdown link or image and HTML tag in it occurs in a cited passage (a reply
  with no numbers at all, e.g. only a link, must not slip through);

otherwise the extractive answer is returned with mode "extractive (LLM answer failed grounding: …)".
Passages are sent inside <passage> tags as data; the prompt tells the model never to follow them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path

from .citations import Answer
from .errors import GenerationError
from .numbers import ungrounded_numbers
from .query import Query
from .settings import Settings
from .stores.base import Store

__all__ = ["generate_answer", "load_prompt", "chat_model", "grounding_problems", "ungrounded_markup"]

log = logging.getLogger(__name__)
MARKER = re.compile(r"\[(\d+)\]")
# Things a reply could carry that no extractive quote would: links (with or without a scheme), script URLs,
# e-mail addresses, Markdown links/images and HTML tags. ASCII only, so the Chinese text around a link is not
# swallowed by it; `(?<![\w+.-])` and not `\b`, because a Chinese character is a word character too (详见https://…).
_URL_CHARS = r"[!#$%&'*+,\-./0-9:;=?@A-Z_a-z~]"
MARKUP = re.compile(
    r"!?\[[^\]\n]*\]\([^)\n]*\)"                                           # [text](target), ![alt](src)
    r"|</?[A-Za-z][^<>\n]*>|<!--"                                          # <img ...>, </a>, <!--
    rf"|(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://{_URL_CHARS}+"          # https://…, ftp://…
    r"|(?<![A-Za-z0-9])(?:javascript|vbscript):\S*|(?<![A-Za-z0-9])data:[\w.+-]+/\S*"  # script, data URIs
    r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"                  # e-mail addresses
    rf"|(?<![A-Za-z0-9.-])www\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+{_URL_CHARS}*",  # www.example.com/…
    re.I)


def load_prompt(prompts_dir: Path, lang: str):
    """prompts/answer_<lang>.md -> ChatPromptTemplate (system + human)."""
    from langchain_core.prompts import ChatPromptTemplate

    path = Path(prompts_dir) / f"answer_{'en' if lang == 'en' else 'zh'}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GenerationError(f"prompt template {path} is missing; restore it from the repository") from exc
    parts = re.split(r"^## (system|human)\s*$", text, flags=re.M)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if set(sections) != {"system", "human"}:
        raise GenerationError(f"prompt template {path} needs a '## system' and a '## human' section")
    return ChatPromptTemplate.from_messages([("system", sections["system"]), ("human", sections["human"])])


def chat_model(settings: Settings):
    """A ChatOpenAI client for any OpenAI-compatible endpoint (vLLM, Ollama, DeepSeek, Qwen …)."""
    if not (settings.llm_base_url or settings.llm_api_key):
        raise GenerationError("LLM generation is on but no endpoint is configured: set POLICY_RAG_LLM_BASE_URL "
                              "(e.g. http://localhost:11434/v1 for Ollama) and/or OPENAI_API_KEY, and "
                              "POLICY_RAG_LLM_MODEL")
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise GenerationError("LLM generation needs langchain-openai: pip install 'policy-rag[llm]'") from exc
    return ChatOpenAI(model=settings.llm_model, base_url=settings.llm_base_url,
                      api_key=settings.llm_api_key or "not-needed", temperature=0, timeout=settings.llm_timeout_s,
                      max_retries=1)


def _passages(index: Store, answer: Answer) -> str:
    out = []
    for c in answer.citations:
        text = index.document(c.doc_id).text[c.context_start:c.context_end].strip()
        # Keep passage text from closing our tags early.
        text = text.replace("<", "＜").replace(">", "＞")
        out.append(f'<passage n="{c.number}" title="{c.title}" city="{c.city}" year="{c.year}">\n{text}\n</passage>')
    return "\n".join(out)


def grounding_problems(text: str, answer: Answer, index: Store) -> list[str]:
    """Why a generated text is not grounded in the extractive answer's citations (empty list = grounded)."""
    problems = []
    numbers = {c.number for c in answer.citations}
    markers = {int(m) for m in MARKER.findall(text)}
    if not markers:
        problems.append("no [n] citation markers")
    if markers - numbers:
        problems.append(f"markers {sorted(markers - numbers)} cite no passage")
    evidence = " ".join(index.document(c.doc_id).text[c.context_start:c.context_end] + " " + c.title
                        for c in answer.citations)
    missing = ungrounded_numbers(MARKER.sub(" ", text), evidence)
    if missing:
        problems.append(f"numbers not in the cited passages: {', '.join(missing)}")
    added = ungrounded_markup(MARKER.sub(" ", text), evidence)
    if added:
        problems.append(f"links or markup not in the cited passages: {', '.join(added)}")
    return problems


def ungrounded_markup(text: str, evidence: str) -> list[str]:
    """Links, e-mail addresses, Markdown links/images and HTML tags in `text` that `evidence` does not contain
    verbatim (trailing punctuation aside): the reply added them, so they are not grounded."""
    out = []
    for m in MARKUP.finditer(text):
        found = m.group(0).rstrip(".,;:!?'\"")
        if found and found not in evidence and found not in out:
            out.append(found)
    return out


def generate_answer(settings: Settings, query: Query, extractive: Answer, index: Store, llm=None) -> Answer:
    """Rephrase `extractive` with an LLM; fall back to it when the LLM fails or is not grounded.

    `llm` is any LangChain chat model (defaults to `chat_model(settings)`); refusals are never sent.
    """
    if extractive.refused or not extractive.citations:
        return extractive
    llm = llm if llm is not None else chat_model(settings)
    from langchain_core.output_parsers import StrOutputParser

    chain = load_prompt(settings.prompts_dir, query.lang) | llm | StrOutputParser()
    try:
        text = chain.invoke({"question": query.text, "passages": _passages(index, extractive)}).strip()
    except Exception as exc:  # network errors, rate limits, bad responses: the extractive answer stands
        log.warning("LLM generation failed: %s", exc)
        return replace(extractive, mode=f"extractive (LLM call failed: {type(exc).__name__})")
    problems = grounding_problems(text, extractive, index)
    if problems:
        log.warning("LLM answer rejected: %s", "; ".join(problems))
        return replace(extractive, mode=f"extractive (LLM answer failed grounding: {'; '.join(problems)})")
    return replace(extractive, answer=text, mode="llm")
