"""break_lines(): worked examples, one or more per rule (the properties are in test_breaker_properties.py)."""

from __future__ import annotations

import pytest

from pipeline.compose import breaker
from pipeline.compose.breaker import break_lines, legal_breaks, zh_width
from pipeline.compose.breaker_zh import NO_END, NO_START

ATTRACTED = "Shenyang has attracted a large number of international enterprises and people to invest and live here!"
RANKS = "沈阳城市国际传播影响力在含港澳台地区在内的全国城市中位列第16位，位列东北地区第一！"
TRADE = "截至去年12月，沈阳已与全球220多个国家和地区实现贸易往来，同比增长30.5%。"


def test_english_example_gives_the_articles_lines() -> None:
    assert break_lines(ATTRACTED, "en", 40) == [
        "Shenyang has attracted a large number",
        "of international enterprises and people",
        "to invest and live here!",
    ]


def test_english_prefers_clause_punctuation_then_conjunctions() -> None:
    text = "As of December last year, Shenyang has achieved trade exchanges with more than 220 countries"
    assert break_lines(text, "en", 30)[0] == "As of December last year,"
    assert break_lines("Open, inclusive and energetic", "en", 20) == ["Open, inclusive", "and energetic"]


@pytest.mark.parametrize("width", range(4, 41, 3))
def test_english_keeps_numbers_with_their_nouns_and_qualifiers(width: int) -> None:
    text = "there are 23 sister cities and trade with more than 220 countries and 220+ partners"
    lines = break_lines(text, "en", width)
    assert " ".join(lines) == text
    assert not any(line.endswith(("23", "than", "220", "220+")) for line in lines), lines


@pytest.mark.parametrize("width", range(4, 41, 3))
def test_english_never_splits_a_proper_noun(width: int) -> None:
    text = "ranks 16th among Chinese cities including Hong Kong, Macao and Taiwan, and No.1 in Northeast China!"
    lines = break_lines(text, "en", width)
    assert "Hong Kong," in lines[lines.index(next(line for line in lines if "Hong" in line))]
    assert any("Northeast China!" in line for line in lines), lines


@pytest.mark.parametrize("width", range(4, 41, 3))
def test_english_leaves_no_function_word_dangling(width: int) -> None:
    lines = break_lines("the city of Shenyang is open to the world and in the mood for a party", "en", width)
    assert not any(line.split()[-1] in {"a", "an", "the", "of", "to", "in"} for line in lines), lines


def test_long_capitalised_titles_may_break_but_short_names_do_not() -> None:
    title = 'the "2022 China City International Communication Impact Index Report".'
    assert max(len(line) for line in break_lines(title, "en", 30)) <= 30
    assert "Zhejiang University" in break_lines("Zhejiang University recently released", "en", 8)


def test_protected_spans_stay_whole() -> None:
    text = "Foreign enterprises have come in droves, the China-Europe freight trains connect thousands of miles"
    assert not any("China-Europe freight trains" in line for line in break_lines(text, "en", 20))
    lines = break_lines(text, "en", 20, protect=["China-Europe  freight trains"])
    assert any("China-Europe freight trains" in line for line in lines), lines
    lines = break_lines("中欧班列连接万里，国际航班通达世界", "zh", 3, protect=["连接万里"])
    assert any("连接万里" in line for line in lines), lines


def test_whitespace_collapses_and_newlines_are_hard_breaks() -> None:
    assert break_lines("  Open,   inclusive\tand energetic!\n\n This is   Shenyang!  ", "en", 40) == [
        "Open, inclusive and energetic!",
        "This is Shenyang!",
    ]
    assert break_lines("开放、包容、充满活力！\n\n这就是沈阳！", "zh", 20) == ["开放、包容、充满活力！", "这就是沈阳！"]
    assert break_lines(" \n", "en", 10) == [] and break_lines("", "zh", 10) == []


def test_a_line_overflows_only_when_nothing_inside_it_may_break() -> None:
    assert break_lines("Internationalisation matters", "en", 5) == ["Internationalisation", "matters"]
    assert break_lines("more than 220 countries", "en", 6) == ["more", "than 220 countries"]


def test_fewest_lines_first_then_balance() -> None:
    lines = break_lines("aaa bbb ccc ddd eee fff", "en", 12)
    assert lines == ["aaa bbb ccc", "ddd eee fff"]


def test_a_pixel_measure_scales_like_the_default() -> None:
    pixels = break_lines(ATTRACTED, "en", 360, measure=lambda s: 9.0 * len(s))
    assert pixels == break_lines(ATTRACTED, "en", 40)
    assert break_lines(RANKS, "zh", 240, measure=lambda s: 20 * zh_width(s)) == break_lines(RANKS, "zh", 12)


def test_chinese_example_fits_keeps_16th_whole_and_obeys_kinsoku() -> None:
    lines = break_lines(RANKS, "zh", 12)
    assert "".join(lines) == RANKS and len(lines) == 4
    assert all(zh_width(line) <= 12 for line in lines), lines
    assert not any(line[0] in "，！" for line in lines)
    assert any("第16位" in line for line in lines), lines


def test_budoux_split_of_an_ordinal_is_repaired() -> None:
    start = RANKS.index("第16位")
    assert not set(range(start + 1, start + 4)) & set(legal_breaks(RANKS, "zh"))


@pytest.mark.parametrize("width", range(3, 16))
def test_chinese_numbers_keep_their_units(width: int) -> None:
    text = TRADE + "建成3所国际化学校、9家医院，票价¥500元。"
    lines = break_lines(text, "zh", width)
    assert "".join(lines) == text
    for atom in ("12月", "220多个", "30.5%。", "3所", "9家", "¥500"):
        assert any(atom in line for line in lines), (atom, lines)


@pytest.mark.parametrize("width", range(3, 16))
def test_chinese_kinsoku_and_latin_words(width: int) -> None:
    text = "中欧班列“长安号”连接万里（第3届），《Hello Shenyang》活动中心举行……这就是沈阳！"
    lines = break_lines(text, "zh", width)
    assert "".join(lines) == text
    assert not any(line[0] in NO_START for line in lines[1:]), lines
    assert not any(line.rstrip()[-1] in NO_END for line in lines[:-1]), lines
    assert any("Hello" in line for line in lines) and any("Shenyang" in line for line in lines), lines


def test_chinese_prefers_to_break_after_a_comma() -> None:
    assert break_lines(TRADE, "zh", 8)[0] == "截至去年12月，"
    assert break_lines(TRADE, "zh", 16)[1].endswith("往来，")


def test_default_chinese_measure_counts_han_as_one_and_the_rest_as_half() -> None:
    assert zh_width("第16位") == 3.0 and zh_width("Hi，") == 2.0


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        break_lines("text", "fr", 10)
    with pytest.raises(ValueError):
        break_lines("text", "en", 0)


@pytest.mark.parametrize(
    ("text", "lang", "width", "line"),
    [("位列第1000位，", "zh", 16.0, "位列第1000位，"), ("  ranks   No.1 ", "en", 40.0, "ranks No.1")],
)
def test_a_paragraph_that_fits_is_one_line_without_analysis(text: str, lang: str, width: float, line: str) -> None:
    before = breaker._analyse.cache_info().misses
    assert break_lines(text, lang, width) == [line]
    assert breaker._analyse.cache_info().misses == before
