from __future__ import annotations

import html as html_lib
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import compose, config, facts, templating
from pipeline.compose import article
from pipeline.compose.blocks import parse
from pipeline.errors import ComposeError
from pipeline.model import Block
from pipeline.templating.state import NUMBER_PATTERN

REPO = Path(__file__).resolve().parents[2]
ALL_TYPES = ("outbox", "wechat", "weibo", "x", "mastodon", "bluesky", "telegram", "facebook", "linkedin", "webhook")
FACTS = facts.load(REPO / "facts/shenyang.yaml")


def _blocks(lang: str, templates: Path = REPO / "templates") -> tuple:
    env = templating.environment(templates.resolve())
    return compose.post_blocks(env, "posts/city-profile", FACTS, lang)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_post_has_the_article_shape(lang: str) -> None:
    kinds = [block.kind for block in _blocks(lang)]
    assert [k for k in kinds if k != "title"][:3] == ["headline", "source", "run"]
    assert kinds.count("paragraph") == 4 and kinds[-2:] == ["slogan", "run"]
    runs = [line for block in _blocks(lang) if block.kind == "run" for line in block.lines]
    assert max(len(line) for line in runs) <= (40 if lang == "en" else 16)


def test_english_text_states_every_figure() -> None:
    text = compose.blocks.plain_text(_blocks("en"))
    assert text.startswith(
        "Shenyang ranks No.1 in Northeast China!\n\nSource: Shenyang WeChat Official Account 2023-02-16"
    )
    for phrase in (
        "ranks 16th",
        "23 sister cities",
        "78 cities with friendly cooperative relations",
        "more than 220 countries and regions",
        "3 international communities",
        "6 international schools",
        "1 international hospital",
        "9 foreign-related designated hospitals",
        "Zhejiang University",
    ):
        assert phrase in text


def test_chinese_text_states_every_figure() -> None:
    text = compose.blocks.plain_text(_blocks("zh"))
    assert text.startswith("沈阳位列东北地区第一！")
    for phrase in (
        "第16位",
        "23个国际友好城市",
        "78个友好合作关系城市",
        "超过220个国家和地区",
        "3个国际化社区",
        "6所国际学校",
        "1所国际医院",
        "9家涉外定点医院",
        "纷至沓来",
    ):
        assert phrase in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_number_comes_from_a_fact(lang: str) -> None:
    text = compose.blocks.plain_text(_blocks(lang))
    known = {str(f.value) for f in FACTS.facts.values()} | {"2022", "2023", "02", "16", "12", "8"}
    assert set(re.findall(r"\d+", text)) <= known


def test_undefined_name_names_template_and_line(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    path = templates / "posts/city-profile.en.j2"
    lines = path.read_text().splitlines()
    lines[8] = "{{ facts.sister_citys.value }}"
    path.write_text("\n".join(lines))
    with pytest.raises(ComposeError) as caught:
        _blocks("en", templates)
    assert str(caught.value).startswith("posts/city-profile.en.j2:9: ")
    assert "sister_citys" in str(caught.value)


def test_missing_template_is_named(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match=re.escape("posts/city-profile.en.j2: template not found")):
        _blocks("en", tmp_path)


def test_block_markup_errors() -> None:
    with pytest.raises(ComposeError, match=re.escape("t.j2:1: text before the first")):
        parse("hello\n::: run\nx", "t.j2")
    with pytest.raises(ComposeError, match=re.escape("t.j2:2: unknown block 'poem'")):
        parse("::: run\n::: poem\nx", "t.j2")
    text = "\n\n::: headline\nA\n\n  ::: run width=20\nb\nc\n::: slogan optional=x\nd"
    with pytest.raises(ComposeError, match=re.escape("t.j2:9: bad block attribute 'optional=x'")):
        parse(text, "t.j2")  # blank lines first, an indented marker line, then the bad one on line 9


def test_variants_per_channel_and_language(project_dir: Path) -> None:
    cfg = config.load(config.Project(project_dir))
    env = templating.environment((project_dir / "templates").resolve())
    variants = compose.compose(env, cfg.jobs["shenyang-profile"], FACTS, cfg.channels)
    expected = [(name, cfg.channels[name].type, lang) for name in ALL_TYPES for lang in ("en", "zh")]
    assert [(v.channel, v.type, v.lang) for v in variants] == expected


def test_filters() -> None:
    env = templating.environment((REPO / "templates").resolve())
    render = lambda src, lang: env.from_string(src).render(lang=lang, n=16, one=1, big=1234567)  # noqa: E731
    assert render("{{ n | ordinal }} {{ one | rank }} {{ big | number }}", "en") == "16th No.1 1,234,567"
    assert render("{{ n | ordinal }} {{ one | rank }}", "zh") == "第16 第一"
    assert [render(f"{{{{ {k} | ordinal }}}}", "en") for k in ("one",)] == ["1st"]
    assert (
        env.from_string("{{ 11 | ordinal }} {{ 22 | ordinal }} {{ 113 | ordinal }}").render(lang="en")
        == "11th 22nd 113th"
    )


LINES = st.lists(st.text(st.characters(blacklist_categories=["Cs"]), min_size=1), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["source", "run", "paragraph", "slogan"]), LINES)
def test_article_html_is_what_the_sanitizer_keeps(kind: str, lines: list[str]) -> None:
    """block_html does not run nh3 on every new block: it writes what nh3 would leave unchanged."""
    html = article.block_html(Block(kind, tuple(lines)))
    assert article.sanitize(html) == html


@settings(max_examples=200, deadline=None)
@given(LINES)
def test_article_html_shows_the_text_and_nothing_else(lines: list[str]) -> None:
    """Whatever the text holds (markup, entities, quotes), the article shows it as text, each figure
    in the figure style (but NUL, which HTML text may not hold, and CR, which it reads as LF)."""
    html = article.block_html(Block("paragraph", tuple(lines)))
    tags = {m[1].lower() for m in re.finditer(r"<(/?\w+)", html)}
    assert tags <= {"p", "/p", "br", "strong", "/strong"}
    texts = [line.replace("\0", "").replace("\r\n", "\n").replace("\r", "\n") for line in lines]
    assert html_lib.unescape(re.sub(r"<[^>]*>", "", html)) == "".join(texts)
    figures = re.findall(r"<strong [^>]*>([^<]*)</strong>", html)
    # figures as provenance reads them (the regex module's digits: a newer Unicode than re's)
    assert figures == [figure for text in texts for figure in regex.findall(NUMBER_PATTERN, text)]


def test_article_figures_are_set_in_the_figure_style() -> None:
    html = article.block_html(Block("paragraph", ("Trade with 220+ partners & <b>1,234</b> firms",)))
    assert html.count('<strong style="color:#c0392b;font-weight:bold">') == 2
    assert "&amp; &lt;b&gt;<strong" in html


@given(st.lists(st.text(alphabet="ab .!?。；\n", max_size=80), min_size=1, max_size=4))
def test_the_digest_is_the_first_paragraph_cut_after_its_last_sentence_end_in_the_limit(lines: list[str]) -> None:
    text = " ".join(lines)
    ends = [i + 1 for i, ch in enumerate(text[: article.DIGEST_LIMIT]) if ch in ".!?。！？；;"]
    cut = text[: ends[-1]].strip() if ends else text[: article.DIGEST_LIMIT - 1].rstrip() + "…"
    expected = text if len(text) <= article.DIGEST_LIMIT else cut
    assert article.digest((Block("headline", ("h",)), Block("paragraph", tuple(lines)))) == expected


def test_a_block_pickled_in_another_process_hashes_as_here() -> None:
    """Block keeps its hash: one made where strings hash otherwise must not bring that hash along."""
    code = "import pickle, sys; from pipeline.model import Block; "
    code += "sys.stdout.buffer.write(pickle.dumps(Block('run', ('a',), 1)))"
    seed = str(int(os.environ.get("PYTHONHASHSEED", "0") or 0) + 1)
    made = subprocess.run(
        [sys.executable, "-c", code], env=os.environ | {"PYTHONHASHSEED": seed}, capture_output=True, check=True
    )
    assert hash(pickle.loads(made.stdout)) == hash(Block("run", ("a",), 1))
