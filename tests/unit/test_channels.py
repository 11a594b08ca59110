"""Channel variants: every example variant within its limit as the platform counts it, whole
optional blocks dropped in the template's priority order, and a clear error when nothing fits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline import compose, config, facts, templating
from pipeline.compose import channels, counting, fitting
from pipeline.compose.blocks import SEPARATOR, block_text, parse
from pipeline.compose.breaker_zh import NO_END, NO_START
from pipeline.compose.channels import Target, variant
from pipeline.compose.draft import Draft, drop_order
from pipeline.config import ChannelConfig
from pipeline.errors import ComposeError
from pipeline.model import Block, Variant

REPO = Path(__file__).resolve().parents[2]


def _example() -> list[Variant]:
    project = config.Project(REPO)
    cfg = config.load(project)
    job = cfg.jobs["shenyang-profile"]
    fact_set = facts.load_all(job.facts, project)
    return compose.compose(templating.environment((REPO / "templates").resolve()), job, fact_set, cfg.channels, "id")


EXAMPLE = _example()


@pytest.mark.parametrize("v", EXAMPLE, ids=lambda v: f"{v.channel}.{v.lang}")
def test_every_variant_is_within_its_limits(v: Variant) -> None:
    fields = {"title": v.title, "digest": v.digest, "content": v.html, "commentary": v.extra.get("commentary")}
    for limit in counting.LIMITS.get(v.type, ()):
        value = fields.get(limit.field) or v.text
        assert limit.counter(value) <= limit.limit, (limit.field, limit.counter(value), limit.limit)
    for count in v.extra.get("counts", []):
        assert count["count"] <= count["limit"]


@pytest.mark.parametrize("v", [v for v in EXAMPLE if v.lang == "zh"], ids=lambda v: v.channel)
def test_no_chinese_line_breaks_a_kinsoku_rule(v: Variant) -> None:
    for line in filter(None, v.text.splitlines()):
        assert line[0] not in NO_START and line[-1] not in NO_END, line


@pytest.mark.parametrize("v", EXAMPLE, ids=lambda v: f"{v.channel}.{v.lang}")
def test_every_variant_keeps_headline_and_source(v: Variant) -> None:
    first, source = v.text.split("\n\n")[:2]
    assert first == ("Shenyang ranks No.1 in Northeast China!" if v.lang == "en" else "沈阳位列东北地区第一！")
    assert source.startswith(("Source: ", "来源："))


def _target(kind: str, **options: object) -> Target:
    channel = ChannelConfig.model_validate({"type": kind, "langs": ["en"], **options})
    return Target("c", channel, "en", False, "t.j2")


POST = """::: headline
Big news
::: paragraph optional=1
{one}
::: paragraph optional=3
{three}
::: paragraph optional=2
{two}
"""


def _post(one: int, two: int, three: int) -> tuple:
    return parse(POST.format(one="a " * one + "one.", two="b " * two + "two.", three="c " * three + "three."), "t.j2")


def test_lowest_priority_goes_first_and_smaller_blocks_come_back() -> None:
    fitted = variant(_target("x"), _post(one=20, two=100, three=60))  # 2 must go; then 1 fits again
    assert [line.split()[-1] for line in fitted.text.split("\n\n")] == ["news", "one.", "three."]


def test_blocks_are_dropped_whole_never_cut() -> None:
    fitted = variant(_target("mastodon"), _post(one=300, two=10, three=10))
    assert "a a" not in fitted.text and fitted.text.endswith("two.")


def test_a_post_that_cannot_fit_names_channel_count_and_limit() -> None:
    blocks = parse("::: headline\n" + "word " * 80, "t.j2")
    with pytest.raises(ComposeError) as caught:
        variant(_target("bluesky"), blocks)
    message = str(caught.value)
    assert message.startswith("t.j2:") and "channel 'c' (bluesky, en)" in message
    assert re.search(r"\b399\b.*\b300\b", message), message


def test_weighted_x_count_is_used_for_chinese() -> None:
    blocks = parse("::: headline\n" + "沈" * 141 + "\n", "t.j2")
    with pytest.raises(ComposeError, match="282"):
        variant(_target("x"), blocks)


@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60), st.none() | st.integers(1, 4)), max_size=14),
    st.integers(0, 400),
    st.integers(0, 400),
    st.integers(1, 2),
)
def test_quick_fit_drops_exactly_what_the_stepwise_search_drops(
    rows: list[tuple[int, int, int | None]], room_a: int, room_b: int, limits: int
) -> None:
    blocks = tuple(Block("paragraph", (f"b{i}",), optional=optional) for i, (_, _, optional) in enumerate(rows))
    weights = [[a for a, _, _ in rows], [b for _, b, _ in rows]][:limits]
    rooms = [room_a, room_b][:limits]
    gone = fitting.search([(w, sum(w) - room) for w, room in zip(weights, rooms, strict=True)], drop_order(blocks))
    draft = Draft(blocks)
    quick = None if gone is None else draft.kept(draft.keep(gone))
    assert quick == fitting.fit(blocks, _Sums(weights, rooms))  # the stepwise search, one keep() at a time


@given(st.lists(st.tuples(st.sampled_from(["title", "run", "paragraph"]), st.text(min_size=1)), max_size=8))
def test_a_drafts_length_is_its_joined_text_and_one_more_separator(rows: list[tuple[str, str]]) -> None:
    """Measure.binds reads Draft.length as an upper bound of the text's code points."""
    draft = Draft(tuple(Block(kind, (line,)) for kind, line in rows))
    text = draft.text(draft.keep(()))
    assert draft.length(block_text, len(SEPARATOR)) == (len(text) + len(SEPARATOR) if text else 0)


class _Sums:
    """fitting.Budget as running sums of per-block weights, one total per limit: the reference for search()."""

    def __init__(self, weights: list[list[int]], rooms: list[int]) -> None:
        self.weights, self.rooms, self.totals = weights, rooms, [sum(w) for w in weights]

    def fits(self) -> bool:
        return all(total <= room for total, room in zip(self.totals, self.rooms, strict=True))

    def keep(self, index: int, kept: bool) -> None:
        sign = 1 if kept else -1
        self.totals = [total + sign * w[index] for total, w in zip(self.totals, self.weights, strict=True)]


@pytest.mark.parametrize("v", [v for v in EXAMPLE if v.type == "linkedin"], ids=lambda v: v.lang)
def test_linkedin_commentary_is_the_text_escaped(v: Variant) -> None:
    """Composing joins the commentary from escaped blocks; it must be the whole text escaped."""
    assert v.extra["commentary"] == counting.linkedin_escape(v.text, keep_hashtags=True)


def test_the_quick_fit_gives_what_counting_whole_texts_gives() -> None:
    """Each example variant, fitted on per-block sums from a Draft, equals the one the exact search
    (whole texts counted for every candidate) gives."""
    project = config.Project(REPO)
    cfg = config.load(project)
    job = cfg.jobs["shenyang-profile"]
    fact_set = facts.load_all(job.facts, project)
    env = templating.environment((REPO / "templates").resolve())
    for lang in ("en", "zh"):
        blocks = compose.post_blocks(env, job.post, fact_set, lang, "id")
        for name in job.channels:
            target = Target(name, cfg.channels[name], lang, True, "t")
            exact = channels._count(target, channels._fit_exactly(target, blocks)).variant()
            assert variant(target, Draft(blocks)).to_json() == exact.to_json(), name
