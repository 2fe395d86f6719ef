"""Follow-up questions: "那赣州呢?" after "绍兴2025年技术交易额目标是多少?" asks the same of 赣州.

A follow-up is read against the previous user question of the conversation, itself resolved the same way,
so a chain of follow-ups ("那赣州呢?" → "2015年呢?") keeps building on the last full question:
- it names only a place, a year or a plan kind (and follow-up words such as 那/呢/and/what about): those
  replace the previous question's places, years or kinds — "赣州2025年技术交易额目标是多少?";
- it names only something to ask about and a follow-up word ("那技术合同成交额呢?"): the previous
  question's places and years are put in front of it.
Any other question is a new question and history is ignored. No LLM is involved; the answer says how the
question was understood.

History is accepted as role/content dicts (OpenAI, Gradio "messages"), LangChain messages, or Gradio's
(user, assistant) pairs.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources

from .errors import InvalidQuestionError
from .places import gazetteer
from .query import KIND_HINTS, Query

__all__ = ["FollowUp", "resolve_follow_up", "user_turns"]

MAX_TURNS = 20  # earlier turns than this are not read: a follow-up refers to the recent conversation


def _words_pattern(words: Iterable[str]) -> re.Pattern:
    parts = [(r"(?<![a-z])" + re.escape(w) + r"(?![a-z])") if w.isascii() else re.escape(w)
             for w in sorted(words, key=len, reverse=True)]
    return re.compile("|".join(parts), re.I)


@functools.lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern, re.Pattern]:
    data = json.loads(resources.files("rag").joinpath("data/follow_up.json").read_text(encoding="utf-8"))
    return _words_pattern(data["markers"]), _words_pattern(data["compare"])


def _marker() -> re.Pattern:
    return _patterns()[0]


@dataclass(frozen=True)
class FollowUp:
    question: str  # the question to answer: the follow-up read against the conversation, or as asked
    understood: bool  # True when it was read as a follow-up (the answer then says how it was understood)


def _text_of(content: object) -> str:
    """A message's text: a string, or the text parts of a multimodal content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        return " ".join(_text_of(p.get("text", "") if isinstance(p, dict) else p) for p in content
                        if isinstance(p, (str, dict)))
    return ""


def user_turns(history: object) -> list[str]:
    """The user's messages in a conversation history, oldest first.

    Accepted: [{"role": "user"|"assistant"|…, "content": …}] (OpenAI, Gradio messages), LangChain
    messages (HumanMessage …), Gradio pairs [[user, assistant], …].
    """
    if history is None:
        return []
    if isinstance(history, (str, bytes)) or not isinstance(history, Iterable):
        raise InvalidQuestionError("history must be a list of turns such as [{\"role\": \"user\", \"content\": "
                                   "\"绍兴2025年技术交易额目标是多少?\"}, {\"role\": \"assistant\", \"content\": …}]")
    out = []
    for turn in list(history)[-2 * MAX_TURNS:]:
        if isinstance(turn, dict):
            role, content = str(turn.get("role", "")).lower(), turn.get("content")
        elif hasattr(turn, "type") and hasattr(turn, "content"):  # a LangChain BaseMessage
            role, content = str(turn.type).lower(), turn.content
        elif isinstance(turn, (list, tuple)) and len(turn) == 2:  # a Gradio (user, assistant) pair
            role, content = "user", turn[0]
        else:
            raise InvalidQuestionError(f"a history turn must be a {{'role', 'content'}} dict, a LangChain message "
                                       f"or a (user, assistant) pair, not {type(turn).__name__}")
        if role in ("user", "human") and (text := _text_of(content).strip()):
            out.append(text)
    return out


def _is_bare(query: Query) -> bool:
    """Only follow-up words left once places, years and plan kinds are set aside."""
    return all(all(_marker().fullmatch(t) for t in g) for g in query.term_groups)


def _replace_spans(text: str, spans: list[tuple[int, int]], new: str) -> str:
    for i, (s, e) in enumerate(sorted(spans, reverse=True)):
        text = text[:s] + (new if i == len(spans) - 1 else "") + text[e:]
    return text


def _in_script_of(text: str, surface: str, code: str, english_names: Mapping[str, str]) -> str:
    """The place named the way `text` names places: "And Nanchang?" after a Chinese question puts 南昌 in it."""
    chinese = bool(re.search(r"[\u4e00-\u9fff]", surface))
    if chinese == bool(re.search(r"[\u4e00-\u9fff]", text)):
        return surface
    place = gazetteer().get(code)
    if chinese:  # an English question names it in English
        return english_names.get(gazetteer().label(place)) or gazetteer().english(place) or place.short
    return place.short


def _merge(previous: Query, prev_place_spans: list[tuple[int, int]], current: Query,
           cur_place_spans: list[tuple[int, int]], english_names: Mapping[str, str]) -> str | None:
    """The previous question with the current one's places / years / kinds put in; None when not a follow-up."""
    text = previous.simplified
    has_mark = bool(_marker().search(current.simplified.lower()))
    named = bool(current.places or current.years or current.kinds)
    if _is_bare(current) and named:
        # the years first: place spans were measured on the unchanged text, and a year never sits inside a place
        places = [_in_script_of(text, current.simplified[s:e], code, english_names)
                  for (s, e), code in zip(cur_place_spans, current.places)]
        if current.years:
            year = f"{current.years[0]}年" if re.search(r"[\u4e00-\u9fff]", text) else f" {current.years[0]} "
            years = [m.span() for m in re.finditer(r"\s*(?<!\d)(?:19|20)\d{2}(?!\d)\s*年?\s*", text)]
            if years:
                text = _replace_spans(text, years, year)
            else:
                places_end = max((e for s, e in prev_place_spans), default=0)
                text = text[:places_end] + year + text[places_end:]
            text = re.sub(r"\s+", " ", text).strip()
        if places:
            spans = _place_spans_in(text, previous, prev_place_spans)
            if spans and _patterns()[1].search(_marker().sub(" ", current.simplified)) is None:
                text = _replace_spans(text, spans, "、".join(places))
            elif spans:  # "和南昌比呢?": the new place joins the ones asked about
                s, e = spans[-1]
                text = text[:e] + "和" + "、".join(places) + text[e:]
            else:
                text = "".join(places) + text
        for kind in current.kinds:
            if not KIND_HINTS[kind].search(text):
                text = kind + text
        return text
    if has_mark and not named and current.term_groups:
        # "那技术合同成交额呢?": the previous question's places and years, this question's subject
        prefix = "".join(previous.simplified[s:e] for s, e in prev_place_spans)
        prefix += "".join(f"{y}年" for y in previous.years)
        rest = _marker().sub("", current.simplified).strip(" ?？")
        return f"{prefix}{rest}?" if prefix else None
    return None


def _place_spans_in(text: str, previous: Query, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The previous question's place spans, found again in `text` (a year may have been inserted before them)."""
    out, at = [], 0
    for s, e in spans:
        surface = previous.simplified[s:e]
        i = text.find(surface, at)
        if i >= 0:
            out.append((i, i + len(surface)))
            at = i + len(surface)
    return out


def resolve_follow_up(question: str, history: object,
                      analyse: Callable[[str], tuple[Query, list[tuple[int, int]]]],
                      english_names: Mapping[str, str] | None = None) -> FollowUp:
    """Read `question` against the conversation `history` (see the module docstring).

    `analyse(text)` returns the text's Query and the spans of the places it names; `english_names` maps a
    place's Chinese name to its English one (绍兴 -> Shaoxing), to name a place the way the question does.
    """
    english_names = english_names or {}
    turns = user_turns(history)
    if not turns:
        return FollowUp(question, False)
    current, cur_spans = analyse(question)
    if not (_is_bare(current) or _marker().search(current.simplified.lower())):
        return FollowUp(question, False)  # a full new question: history plays no part
    resolved: str | None = None
    for turn in turns:  # each earlier turn is itself read against the ones before it
        if resolved is not None:
            turn = _resolve_one(turn, resolved, analyse, english_names) or turn
        resolved = turn
    merged = _resolve_one(question, resolved, analyse, english_names) if resolved else None
    return FollowUp(merged, True) if merged else FollowUp(question, False)


def _resolve_one(question: str, previous_text: str, analyse, english_names: Mapping[str, str]) -> str | None:
    current, cur_spans = analyse(question)
    previous, prev_spans = analyse(previous_text)
    if not (_is_bare(current) or _marker().search(current.simplified.lower())):
        return None
    return _merge(previous, prev_spans, current, cur_spans, english_names)
