"""Channel mockups: built from the payload each publisher sends, counted as each channel counts,
and rendered with every text escaped."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import zoneinfo
from pathlib import Path

import pytest

from pipeline import compose, config, facts, templating
from pipeline.compose import facets
from pipeline.config import ChannelConfig
from pipeline.model import Card, Variant
from pipeline.publish import Services
from pipeline.records import Delivery, DeliveryStatus
from pipeline.web.mockups import Mockup, mockup
from pipeline.web.pages import environment

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
CARDS = tuple(Card(Path(f"var/media/{c * 64}.png"), 1080, 1350, f"card {c} <alt>") for c in "abc")
SERVICES = Services(REPO)


def _example() -> list[Variant]:
    project = config.Project(REPO)
    cfg = config.load(project)
    job = cfg.jobs["shenyang-profile"]
    fact_set = facts.load_all(job.facts, project)
    return compose.compose(templating.environment((REPO / "templates").resolve()), job, fact_set, cfg.channels, "id")


def _shown(variant: Variant, **options: object) -> Mockup:
    delivery = Delivery(7, 3, DeliveryStatus.PENDING, 0, NOW, variant)
    return mockup(delivery, ChannelConfig.model_validate({"type": variant.type} | options), SERVICES)


def _text(shown: Mockup) -> str:
    return "".join(segment.text for segment in shown.segments)


@pytest.mark.parametrize("variant", _example(), ids=lambda v: f"{v.channel}.{v.lang}")
def test_every_example_mockup_counts_what_compose_counted(variant: Variant) -> None:
    shown = _shown(dataclasses.replace(variant, cards=CARDS[:1]))  # the example's channels all take a card
    counted = [(c["field"], c["count"], c["limit"]) for c in variant.extra["counts"]]
    assert [(m.field, m.count, m.limit) for m in shown.meters] == counted
    assert shown.fits, shown.problems


def test_telegram_shows_the_caption_it_sends_escaped_as_html() -> None:
    text = "Fish & <chips> 2023"
    photo = _shown(Variant("tg", "telegram", "en", text, CARDS[:1]), options={"chat_id": "@city"})
    assert photo.wire.call == "sendPhoto" and photo.wire.body["caption"] == "Fish &amp; &lt;chips&gt; 2023"
    assert _text(photo) == text and [m.field for m in photo.meters] == ["caption"]
    album = _shown(Variant("tg", "telegram", "en", text, CARDS))
    assert album.wire.call == "sendMediaGroup" and album.wire.body["media"][0]["caption"] == photo.wire.body["caption"]
    message = _shown(Variant("tg", "telegram", "en", text))
    assert message.wire.call == "sendMessage" and [(m.field, m.limit) for m in message.meters] == [("text", 4096)]
    assert not any(p.alt_sent for p in album.pictures)


def test_bluesky_links_and_tags_come_from_the_facets_byte_offsets() -> None:
    text = "沈阳第一！ https://www.shenyang.gov.cn/ #沈阳 end"
    shown = _shown(Variant("sky", "bluesky", "zh", text, extra={"facets": facets.bluesky_facets(text)}))
    marked = [(s.kind, s.text, s.href) for s in shown.segments if s.kind != "text"]
    assert marked == [("link", "https://www.shenyang.gov.cn/", "https://www.shenyang.gov.cn/"), ("tag", "#沈阳", None)]
    assert _text(shown) == text
    assert [m.unit for m in shown.meters] == ["graphemes", "UTF-8 bytes"]


def test_linkedin_sends_escaped_commentary_and_shows_it_plain() -> None:
    text = "Shenyang (No.1) #Shenyang *bold*"
    shown = _shown(Variant("li", "linkedin", "en", text), options={"author": "urn:li:organization:1"})
    assert shown.wire.body["commentary"] == r"Shenyang \(No.1\) #Shenyang \*bold\*"
    assert _text(shown) == text
    assert shown.meters[0].count == len(shown.wire.body["commentary"])


def test_x_counts_weighted_and_shows_links_short() -> None:
    text = "沈阳 see shenyang.gov.cn/en/news/international-exchanges"
    shown = _shown(Variant("x", "x", "zh", text, CARDS[:2]))
    assert shown.meters[0].count == 2 * 2 + len(" see ") + 23
    assert [s.text for s in shown.segments if s.kind == "link"] == ["shenyang.gov.cn/en/news…"]
    assert [fields["alt_text"] for _, fields in shown.wire.uploads] == [c.alt for c in CARDS[:2]]


def test_weibo_shows_its_link_label_one_picture_and_the_publishers_problems() -> None:
    text = "沈阳！ https://www.shenyang.gov.cn/"
    shown = _shown(Variant("wb", "weibo", "zh", text, CARDS), link="https://www.shenyang.gov.cn/")
    assert [s.text for s in shown.segments if s.kind == "link"] == ["网页链接"]
    assert len(shown.pictures) == 1 and shown.wire.body["pic"] == CARDS[0].path.name
    assert shown.problems == ("3 images; a Weibo status takes 1 (only the first would go)",)
    unlinked = _shown(Variant("wb", "weibo", "zh", "沈阳！"), link="https://www.shenyang.gov.cn/")
    assert any("must contain the channel's link" in problem for problem in unlinked.problems)


def test_an_over_limit_variant_does_not_fit() -> None:
    shown = _shown(Variant("x", "x", "en", "word " * 60))
    assert shown.meters[0].count == 300 and not shown.meters[0].fits and not shown.fits


def test_the_wechat_article_is_sanitized_again_with_styles_as_data() -> None:
    body = (
        '<section style="padding:0 8px;"><p style="text-align:center;">Hi &amp; bye</p><script>x()</script></section>'
    )
    variant = Variant("wx", "wechat", "en", "Hi", CARDS[:2], title="Title", digest="Digest", html=body)
    article = _shown(variant, options={"author": "Office"}).article
    assert article is not None and article.author == "Office" and article.cover == _shown(variant).pictures[0]
    assert "<script" not in article.body and "style=" not in article.body.replace("data-wx-style=", "")
    assert '<p data-wx-style="text-align:center">Hi &amp; bye</p><img src=' in article.body
    assert f'<img src="/media/{CARDS[1].path.name}" alt="card b &lt;alt&gt;">' in article.body
    calls = [call for call, _ in _shown(variant).wire.uploads]
    assert calls == ["POST /cgi-bin/material/add_material?type=image", "POST /cgi-bin/media/uploadimg"]


@pytest.mark.parametrize(
    "kind", ["outbox", "webhook", "wechat", "weibo", "x", "mastodon", "bluesky", "telegram", "facebook", "linkedin"]
)
def test_every_mockup_template_escapes_the_text(kind: str) -> None:
    hostile = '<script>alert(1)</script> "quoted" https://a.example/?q=<i class=h>'
    variant = Variant("ch", kind, "en", hostile, CARDS[:1], title=hostile, digest=hostile, html="<p>ok</p>")
    delivery = Delivery(7, 3, DeliveryStatus.PENDING, 0, NOW, variant)
    shown = mockup(delivery, ChannelConfig.model_validate({"type": kind}), SERVICES)
    page = environment.get_template(shown.template).render(m=shown, d=delivery, tz=zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert "<script>" not in page and "<i class=h>" not in page and "&lt;script&gt;" in page
    assert json.loads(shown.wire.as_json())[-1]["call"] == shown.wire.call
