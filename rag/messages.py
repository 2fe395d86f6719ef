"""Every user-facing sentence of answers and refusals, in Chinese and English, in one place.

`say(key, english, **values)` returns the wording for the answer's language. Adding a language means
adding a column here, not editing the pipeline.
"""

from __future__ import annotations

__all__ = ["say", "MESSAGES"]

MESSAGES: dict[str, tuple[str, str]] = {
    # refusals and notes about places
    "no_plan_for": ("没有关于{place}的规划文件", "no indexed plan covers {place}"),
    "no_own_plan_inside": ("没有{place}本级的规划文件（收录了其辖区内{inside}的规划，但它们不是{place}的目标）",
                           "no plan of {place} itself is indexed (only plans of {inside} within it, which are not "
                           "{place}'s own)"),
    "no_own_plan_above": ("没有{place}的规划文件（只收录了其上级{above}的规划，其目标不是{place}的）",
                          "no plan of {place} is indexed (only of {above}, which contains it; its figures are "
                          "not {place}'s)"),
    "named_in_plan_above": ("（{place}没有本级规划文件；以下引自{plan}中关于{place}的内容）",
                            "({place} has no plan of its own indexed; quoted below is what {plan} says of it)"),
    "filter_conflict": ("筛选条件（{filter}）与问题中的地点（{places}）不一致；请去掉筛选条件或修改问题",
                        "the place filter ({filter}) contradicts the place in the question ({places}); "
                        "remove the filter or change the question"),
    "assumed_place": ("（按“{place}”理解“{written}”）", "(read “{written}” as {place})"),
    "no_plan_year": ("没有{place}{years}年的规划文件", "no plan {for_place}covers {years}"),
    "no_plan_year_any": ("没有覆盖{years}年的规划文件", "no indexed plan covers {years}"),
    "nothing_for_place": ("{place}的相关内容", "nothing on this for {place}"),
    "no_support": ("检索到的段落都不包含所问的内容", "no passage in the documents supports an answer"),
    "no_content": ("问题里没有可检索的内容（只有符号或表情）；请用文字提问，例如“绍兴2025年技术交易额目标是多少?”",
                   "the question has no words to search for (only symbols or emoji); ask in words, e.g. "
                   "“What is Shaoxing's 2025 technology transaction target?”"),
    "more_places": ("（只列出了与问题最相关的{shown}个地方；另有{n}个地方的规划未查看，写明地点可查询）",
                    "(Only the {shown} places whose plans match the question best are listed; the plans of {n} more "
                    "places were not searched: name a place to ask about it.)"),
    "understood_as": ("（按上文理解为：{question}）", "(Read with the previous question as: {question})"),
    # answer frames
    "refusal": ("文档中没有相关内容：{reason}。", "The documents do not state this: {reason}."),
    "according_to": ("根据{label}：{quotes}。", "According to {label}: {quotes}."),
    "not_stated": ("文档未载明：{items}。", "Not stated in the documents: {items}."),
    "corpus_list": ("共收录{n}份规划文件：", "{n} plan documents are indexed:"),
    "corpus_places": ("收录的规划涉及：{places}。", "The indexed plans are for: {places}."),
    "outline": ("{label}的主要内容（各部分标题）：", "The main parts of {label} (its section headings):"),
}

_JOIN = {"zh": ("、", "；"), "en": (", ", "; ")}


def say(key: str, english: bool = False, **values) -> str:
    """The message `key` in English or Chinese, with `values` filled in."""
    zh, en = MESSAGES[key]
    return (en if english else zh).format(**values)


def join(items, english: bool = False, strong: bool = False) -> str:
    """Join a list the way the language does: 、/；in Chinese, , / ; in English."""
    sep = _JOIN["en" if english else "zh"][1 if strong else 0]
    return sep.join(items)
