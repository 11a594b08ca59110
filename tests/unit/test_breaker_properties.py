"""break_lines(): properties over generated text in both languages (examples are in test_breaker.py)."""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st
from uniseg.linebreak import east_asian_width, extended_pictographic, line_break, line_break_boundaries

from pipeline.compose import breaker, breaker_zh, phrases
from pipeline.compose.breaker import break_lines, legal_breaks, zh_width
from pipeline.compose.breaker_zh import NO_END, NO_START, uax14_breaks

HAN = "沈阳城市国际传播影响力在含港澳台地区内的全国中位列第一东北已与球多家和实现贸易往来同比增长这就是开放包容"
PUNCT = ["，", "。", "！", "？", "、", "；", "：", "“", "”", "‘", "’", "（", "）", "《", "》", "「", "」", "【", "】",
         "……", "——", "·", "%", "(", ")", "[", "]", ",", ".", "!", "?", ":", ";"]  # fmt: skip
UNSPLITTABLE = [
    re.compile(r"\d+(?:[.,]\d+)*"),  # a digit run, with its decimal point or thousands separator
    re.compile(r"\d[个所家位名项座条年月日万亿%]"),  # a number and its unit
    re.compile(r"[第¥$]\d"),  # an ordinal or a price
    re.compile(r"[A-Za-z]+"),  # a Latin word
]
DANGLING = {"a", "an", "the", "of", "to", "in"}
NUMBER = re.compile(r"\d[\d,.]*\+?")
NAMES = ["Hong Kong,", "Northeast China!", "Zhejiang University,"]  # each ends its capitalised run
WORDS = ["city", "cities", "sister", "trade", "open", "ranks", "has", "attracted", "international", "exchanges",
         "a", "an", "the", "of", "to", "in", "and", "with", "among", "than", "more", "including", "while",
         "23", "220", "220+", "1,000", "16th", "world.", "here!", "regions,", "Shenyang,", "opening-up"]  # fmt: skip

zh_text = st.lists(
    st.one_of(
        st.text(alphabet=HAN, min_size=1, max_size=6),
        st.from_regex(r"[第¥$]?[0-9]{1,4}(?:[.,][0-9]{1,2})?[个所家位%]?", fullmatch=True),
        st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True),
        st.sampled_from(PUNCT),
        st.just(" "),
    ),
    min_size=1,
    max_size=24,
).map("".join)
en_text = st.lists(
    st.tuples(st.sampled_from(WORDS + NAMES), st.sampled_from([" ", " ", " ", "  ", "\t", "\n"])),
    min_size=1,
    max_size=30,
).map(lambda pairs: "".join(word + gap for word, gap in pairs))
widths = st.integers(min_value=4, max_value=40)


def cuts(lines: list[str], skip: int) -> list[int]:
    """Where each line but the last ends, as offsets into the joined text (en: the space dropped there)."""
    ends = itertools.accumulate(len(line) + skip for line in lines)
    return [end - skip for end in ends][:-1]


def greedy_count(text: str, breaks: tuple[int, ...], skip: int, width: float, measure: Callable[[str], float]) -> int:
    """Fewest lines possible: go as far as fits each time, or one cut further when nothing fits."""
    ends, count, start = [*breaks, len(text)], 0, 0
    while start < len(text):
        fitting = [end for end in ends if end > start and measure(text[start:end]) <= width]
        end = max(fitting) if fitting else min(end for end in ends if end > start)
        count, start = count + 1, end + skip
    return count


def assert_width_respected(text: str, lines: list[str], lang: str, width: float) -> None:
    measure = zh_width if lang == "zh" else len
    skip = 1 if lang == "en" else 0
    breaks = legal_breaks(text, lang)
    starts = [0, *(cut + skip for cut in cuts(lines, skip))]
    for start, line in zip(starts, lines, strict=True):
        inside = [b for b in breaks if start < b < start + len(line)]
        assert measure(line) <= width or not inside, (line, width)
    assert len(lines) == greedy_count(text, breaks, skip, width, measure)


@settings(max_examples=300, deadline=None)
@given(zh_text, widths)
def test_chinese_lines_rebuild_the_text_and_break_only_where_legal(text: str, width: int) -> None:
    lines = break_lines(text, "zh", width)
    assert "".join(lines) == (text if text.strip() else "") and all(lines)  # a blank paragraph yields no line
    assert not any(line[0] in NO_START for line in lines[1:]), lines
    assert not any(line.rstrip()[-1:] in NO_END for line in lines[:-1]), lines
    positions = set(cuts(lines, 0))
    for pattern in UNSPLITTABLE:
        for match in pattern.finditer(text):
            assert not positions & set(range(match.start() + 1, match.end())), (match.group(), lines)


@settings(max_examples=300, deadline=None)
@given(zh_text, widths)
def test_chinese_lines_fit_unless_unbreakable_and_are_fewest(text: str, width: int) -> None:
    if text.strip():
        assert_width_respected(text, break_lines(text, "zh", width), "zh", width)


@settings(max_examples=300, deadline=None)
@given(st.data(), zh_text, widths)
def test_chinese_protected_spans_stay_whole(data: st.DataObject, text: str, width: int) -> None:
    start = data.draw(st.integers(0, len(text) - 1))
    span = text[start : data.draw(st.integers(start + 1, len(text)))]
    positions = set(cuts(break_lines(text, "zh", width, protect=[span]), 0))
    if span.strip():
        for match in re.finditer(f"(?=({re.escape(span)}))", text):
            assert not positions & set(range(match.start() + 1, match.start() + len(span)))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=HAN[:4] + "1609abzAZ，。“”（）%…— \u3000😀\u0301\u200d-'\"$.,/+", max_size=16))
def test_fast_uax14_agrees_with_uniseg(text: str) -> None:
    assert uax14_breaks(text) == set(line_break_boundaries(text))


@settings(max_examples=300, deadline=None)
@given(en_text, widths)
def test_english_lines_rebuild_the_words_and_keep_phrases(text: str, width: int) -> None:
    lines = break_lines(text, "en", width)
    assert " ".join(lines) == " ".join(text.split()) and all(lines)
    assert not any(line != line.strip() for line in lines)
    for paragraph in text.split("\n"):
        check_english_breaks(break_lines(paragraph, "en", width))
    for name in NAMES:
        assert text.count(name) == sum(line.count(name) for line in lines), name


def check_english_breaks(lines: list[str]) -> None:
    for line, after in itertools.pairwise(lines):
        last = line.split()[-1]
        assert last not in DANGLING and not NUMBER.fullmatch(last), (line, after)
        assert not (last == "than" and after[0].isdigit()), (line, after)


@settings(max_examples=300, deadline=None)
@given(en_text, widths)
def test_english_lines_fit_unless_unbreakable_and_are_fewest(text: str, width: int) -> None:
    for paragraph in text.split("\n"):
        if paragraph.strip():
            normal = " ".join(paragraph.split())
            assert_width_respected(normal, break_lines(paragraph, "en", width), "en", width)


@settings(max_examples=300, deadline=None)
@given(st.data(), en_text, widths)
def test_english_protected_spans_stay_whole(data: st.DataObject, text: str, width: int) -> None:
    words = text.split()  # one paragraph: a newline is a hard break, protected or not
    text = " ".join(words)
    start = data.draw(st.integers(0, len(words) - 1))
    span = " ".join(words[start : data.draw(st.integers(start + 1, len(words)))])
    normal = " ".join(words)
    positions = set(cuts(break_lines(text, "en", width, protect=[span]), 1))
    for match in re.finditer(f"(?=({re.escape(span)}))", normal):
        assert not positions & set(range(match.start(), match.start() + len(span)))


def test_ascii_digits_and_letters_are_each_alike_for_uax14() -> None:
    """uax14_breaks spells them 0 and a: it relies on UAX #14 reading nothing else of them."""

    def kind(char: str) -> tuple[str, str, bool]:
        return line_break(char), east_asian_width(char), extended_pictographic(char)

    for group, spelled in ((string.digits, "0"), (string.ascii_letters, "a")):
        assert {kind(char) for char in group} == {kind(spelled)}, group


def test_every_han_character_is_a_plain_ideograph_for_uax14() -> None:
    """uax14_breaks relies on it: Han | Han is always a break and no UAX #14 context crosses Han."""
    for code in itertools.chain(range(0x3400, 0x4DC0), range(0x4E00, 0xA000)):
        char = chr(code)
        assert breaker_zh.HAN.fullmatch(char) and line_break(char) == "ID" and east_asian_width(char) == "W", hex(code)
        assert not extended_pictographic(char), hex(code)


def _model_characters() -> list[str]:
    import budoux

    model = budoux.load_default_simplified_chinese_parser().model
    return sorted({char for group in model.values() for key in group for char in key})


PHRASE_TEXT = st.text(
    alphabet=st.sampled_from("沈阳城市国际传播影响力在含港澳台地区内的全国中位列第一东北，。！、16个所abc 《》“”😀\0")
    | st.sampled_from(_model_characters()),  # every character BudouX's model mentions, the padding too
    max_size=60,
)


@settings(max_examples=500, deadline=None)
@given(PHRASE_TEXT)
def test_phrase_boundaries_are_budoux_exactly(text: str) -> None:
    import budoux

    expected = set(
        itertools.accumulate(len(chunk) for chunk in budoux.load_default_simplified_chinese_parser().parse(text))
    )
    assert phrases.boundaries(text) == (expected or {0})


@settings(max_examples=300, deadline=None)
@given(en_text, widths, st.sampled_from([(), ("Hong Kong,",), ("220 city",)]))
def test_english_digits_do_not_move_the_breaks(text: str, width: int, protect: tuple[str, ...]) -> None:
    """English paragraphs are broken with their ASCII digits spelled 0 (so that new figures reuse the
    breaks of old ones): the lines are those the paragraph's own analysis gives."""
    for paragraph in filter(str.strip, text.split("\n")):
        par = breaker._analyse(paragraph, "en", protect)
        path = breaker._choose(par, width, None)
        expected = [par.text[par.starts[i] : par.ends[j]] for i, j in itertools.pairwise(path)]
        assert breaker._lines(paragraph, "en", protect, width, None) == expected
