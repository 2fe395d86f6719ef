"""Which plans answer a question: one sub-question per place named, decided before any retrieval.

Rules (places come from `rag.question_places`, plans' places from `rag.metadata`):
- A place is answered only from plans *of that place*: a province from provincial plans, a city from city
  plans, a district from its own. A city's figure is never passed off as its province's or district's;
  when only plans above or inside the place exist, the refusal says which ones do.
- A place with no plan of its own (a district, a town) may still be answered from a plan of a place above it,
  but only by a passage that names it ("锡林浩特市高新技术企业29家" in the league's summary), and the answer
  says so.
- A place with no plan at all is refused by name.
- A place filter (`city=` / `--city`) that contradicts the places in the question is refused, saying so;
  one that agrees narrows the question to it.
- A question naming no place is an open question: every place with plans answers in turn (the
  assistant keeps the ones that answer about equally well, each labelled).
"""

from __future__ import annotations

from dataclasses import dataclass

from .messages import join, say
from .places import Place, gazetteer, is_township
from .query import Query
from .question_places import PlaceCatalog

__all__ = ["SubQuestion", "QuestionPlan", "plan_question"]


@dataclass(frozen=True)
class SubQuestion:
    place: str | None  # division code; None for plans whose place is unknown
    label: str | None  # how answers name the place: 绍兴 / 温州市洞头区 / 浙江省
    docs: frozenset[str]  # the documents this part may be answered from (before year and kind filters)
    # For a place answered from a plan above it: the names a quoted passage must hold, and why nothing else
    # answers (the refusal when no passage names it).
    names: tuple[str, ...] = ()
    unanswered: str | None = None


@dataclass(frozen=True)
class QuestionPlan:
    subquestions: tuple[SubQuestion, ...]
    missing: tuple[str, ...] = ()  # named places with no plan of their own, worded for the answer
    open: bool = False  # no place named
    refusal: str | None = None  # refuse before retrieval, with this reason


def plan_question(query: Query, catalog: PlaceCatalog, place_filter: Place | None = None) -> QuestionPlan:
    gaz = gazetteer()
    en = query.is_english
    named = [gaz.get(c) for c in query.places]
    if place_filter is not None:
        if named and not any(gaz.contains(place_filter, p) or gaz.contains(p, place_filter) for p in named):
            return QuestionPlan((), refusal=say("filter_conflict", en, filter=gaz.label(place_filter),
                                                places=join([gaz.label(p) for p in named], en)))
        named = [place_filter]
    townships = [u for u in query.unknown_places if is_township(u)]
    if townships:  # 周庄镇 in 江阴: below any indexed plan's place, and the county's figures are not the town's
        above = [p for p in named if catalog.docs_at(p.code)]
        town = join(townships, en)
        if not above:
            return QuestionPlan((), refusal=say("no_plan_for", en, place=town))
        why = say("no_own_plan_above", en, place=town, above=join([gaz.label(p) for p in above], en))
        docs = frozenset().union(*(catalog.docs_at(p.code) for p in above))
        return QuestionPlan((SubQuestion(None, town, docs, tuple(townships), why),))
    if not named and query.unknown_places:  # only places outside China's divisions (东京): no plan is theirs
        return QuestionPlan((), refusal=say("no_plan_for", en, place=join(query.unknown_places, en)))
    if not named:
        by_place: dict[str | None, set[str]] = {}
        for doc_id, code in catalog.doc_places.items():
            by_place.setdefault(code, set()).add(doc_id)
        subs = tuple(SubQuestion(code, gaz.label(gaz.get(code)) if code else None, frozenset(docs))
                     for code, docs in sorted(by_place.items(), key=lambda kv: kv[0] or ""))
        return QuestionPlan(subs, open=True)

    subs, missing = [], []
    for place in named:
        label = gaz.label(place)
        docs = catalog.docs_at(place.code)
        if docs:
            subs.append(SubQuestion(place.code, label, frozenset(docs)))
        elif above := _nearest_above(place, catalog):
            names = tuple(dict.fromkeys((place.name, place.short)))
            subs.append(SubQuestion(place.code, label, frozenset(catalog.docs_at(above.code)), names,
                                    _why_missing(place, catalog, en)))
        else:
            missing.append(_why_missing(place, catalog, en))
    if not subs:
        return QuestionPlan((), tuple(missing), refusal=join(missing, en, strong=True))
    return QuestionPlan(tuple(subs), tuple(missing))


def _nearest_above(place: Place, catalog: PlaceCatalog) -> Place | None:
    """The closest place above `place` with plans of its own, when `place` has none and none inside it."""
    if catalog.docs_within(place.code):
        return None  # a city with only district plans: theirs are not the city's, nor is the city named there
    return next((a for a in reversed(gazetteer().lineage(place)[:-1]) if catalog.docs_at(a.code)), None)


def _why_missing(place: Place, catalog: PlaceCatalog, english: bool) -> str:
    gaz = gazetteer()
    label = gaz.label(place)
    inside = sorted({gaz.label(gaz.get(catalog.doc_places[d])) for d in catalog.docs_within(place.code)})
    if inside:
        return say("no_own_plan_inside", english, place=label, inside=join(inside, english))
    above = [gaz.label(a) for a in gaz.lineage(place)[:-1] if catalog.docs_at(a.code)]
    if above:
        return say("no_own_plan_above", english, place=label, above=join(above, english))
    return say("no_plan_for", english, place=label)
