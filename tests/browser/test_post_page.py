"""The post page in Chromium, as issue 7 lists it: log in and see the example post; check the WeChat
mockup and a card image; approve and see the delivery in the outbox; edit a variant past its limit
and see the error; log out and be refused. Full-page screenshots go to the artifacts folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from .conftest import Server, full_page, log_in, wait_for

POST = "/posts/1"
TITLE = "Shenyang ranks No.1 in Northeast China!"


def variant(page: Page, channel: str, lang: str = "en") -> Locator:
    return page.locator(f'.variant[data-channel="{channel}"][data-lang="{lang}"]')


def natural_size(image: Locator) -> tuple[int, int]:
    """The image's pixel size once it has loaded (0 × 0 if it could not be)."""
    image.scroll_into_view_if_needed()
    image.page.wait_for_function("image => image.complete", arg=image.element_handle())
    size = image.evaluate("image => [image.naturalWidth, image.naturalHeight]")
    return int(size[0]), int(size[1])


def test_an_editor_logs_in_and_sees_the_example_post(page: Page, artifacts: Path) -> None:
    log_in(page)
    page.get_by_role("link", name=TITLE, exact=True).click()
    expect(page).to_have_url(re.compile(f"{POST}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    channels = page.locator("section.channel")
    expect(channels).to_have_count(10)  # every channel of the example job, each in English and Chinese
    expect(page.locator(".variant")).to_have_count(20)
    full_page(page, artifacts, "post-1")


def test_the_wechat_mockup_and_a_card_image(page: Page, artifacts: Path) -> None:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    log_in(page)
    page.goto(POST)

    wechat = variant(page, "wechat")
    phone = wechat.locator(".phone")
    assert phone.evaluate("phone => phone.clientWidth") == 375
    payload = json.loads(wechat.locator(".payload pre").text_content() or "")[-1]["articles"][0]
    expect(phone.locator(".wx-title")).to_have_text(payload["title"])
    assert natural_size(phone.locator(".wx-cover img")) == (900, 383)
    wide, square = wechat.locator(".crop-wide").bounding_box(), wechat.locator(".crop-square").bounding_box()
    assert wide and square and abs(wide["width"] / wide["height"] - 2.35) < 0.02 and square["width"] == square["height"]
    assert wechat.locator(".crop-square").evaluate("i => getComputedStyle(i).objectFit") == "cover"
    expect(wechat.locator(".wx-digest")).to_have_text(payload["digest"])
    # The article's inline styles are applied (through the CSSOM: the CSP refuses style attributes).
    run_line = phone.locator(".wx-body section section p").first
    assert run_line.evaluate("p => getComputedStyle(p).textAlign") == "center"
    assert natural_size(phone.locator(".wx-body img")) == (1080, 1350)
    wechat.screenshot(path=artifacts / "post-1-wechat-en.png")

    x = variant(page, "x")
    card = x.locator("img.card-image")
    assert natural_size(card) == (1200, 675)
    expect(x.locator(".alt")).to_have_text(f"Alt {card.get_attribute('alt')}")
    expect(x.locator('.meter[data-field="text"] .meter-count')).to_have_text(re.compile(r"^\d{1,3} / 280$"))
    card.click()
    zoomed = page.locator("#zoom .zoom-image")
    expect(zoomed).to_be_visible()
    assert zoomed.evaluate("i => [i.getBoundingClientRect().width, i.getBoundingClientRect().height]") == [1200, 675]
    page.screenshot(path=artifacts / "post-1-card-zoomed.png")
    page.keyboard.press("Escape")
    expect(page.locator("#zoom")).to_be_hidden()
    assert [text for text in console if "Content Security Policy" in text] == []


def test_approving_sends_the_delivery_to_the_outbox(page: Page, server: Server, artifacts: Path) -> None:
    log_in(page)
    page.goto(POST)
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash")).to_have_text("Approved.")
    expect(page.locator("[data-post-status]")).to_have_attribute("data-post-status", "approved")

    outbox = variant(page, "outbox")
    status = outbox.locator("[data-delivery-status]")

    def published() -> bool:
        page.reload()
        return status.get_attribute("data-delivery-status") == "published"

    wait_for("the outbox delivery published", published, 30)
    sent = server.project / "var/outbox/outbox" / f"{outbox.get_attribute('id')}.json"
    expect(outbox.locator(".receipt-url")).to_have_text(sent.resolve().as_uri())
    assert json.loads(sent.read_text())["text"] == outbox.locator(".mock-text").inner_text()
    full_page(page, artifacts, "post-1-approved")


def test_an_edit_past_the_limit_shows_the_error(page: Page, artifacts: Path) -> None:
    log_in(page)
    page.goto(POST)
    x = variant(page, "x")
    before = x.locator(".mock-text").inner_text()
    x.get_by_text("Edit the en text").click()
    x.locator("textarea").fill(" ".join(["Shenyang welcomes you."] * 15))  # 344 characters, no figures
    with page.expect_response(re.compile(r"/variants/x/en/edit$")) as answer:
        x.get_by_role("button", name="Save edit").click()
    assert answer.value.status == 422
    expect(page.locator(".flash")).to_contain_text("344")
    expect(page.locator(".flash")).to_contain_text("280")
    expect(x.locator(".mock-text")).to_have_text(before)
    page.screenshot(path=artifacts / "post-1-edit-refused.png")  # the top: the refusal above the post


def test_after_logging_out_the_post_is_refused(page: Page) -> None:
    log_in(page)
    page.goto(POST)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(POST)
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fposts%2F1$"))
    expect(page.locator(".post-page")).to_have_count(0)
    assert page.request.get(f"/api{POST}").status == 401
