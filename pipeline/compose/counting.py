r"""Length counters and per-channel text limits, each counted the way its platform counts.

Where each rule comes from ("contract" = shared/api-contracts.md, table in section 0 and the section named):

- X (contract §4; twitter-text config/v3.json and parseTweet, checked against twitter-text's
  conformance/validate.yml): NFC first; every URL the twitter-text extractor finds, scheme-less domains
  included, weighs 23; every emoji sequence (ZWJ, skin tone, keycap, flag, VS16) weighs 2; any other code
  point weighs 1 in U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F, U+2032–U+2037 and 2 elsewhere. URLs come
  from twitter-text-parser's extractor (it passes the conformance URL cases). The weighting is ours: the
  package's parse_tweet matches emoji from a Unicode 12 list, so later sequences such as ❤️‍🔥 weigh 5 there,
  and it turns CRLF into LF, which twitter-text does not. U+FFFE, U+FEFF, U+FFFF and U+202A–U+202E make a
  post invalid (contract; twitter-text itself now accepts U+202A–U+202E, so this is the stricter reading).
- Mastodon (contract §3; app/validators/status_length_validator.rb): grapheme clusters of the spoiler
  plus the status, after each URL with a scheme becomes 23 characters and each @user@domain becomes @user.
- Bluesky (contract §5; lexicon app.bsky.feed.post): 300 graphemes and 3000 UTF-8 bytes.
- Weibo (contract §2, empirical and unconfirmed): U+0000–U+00FF count ½, U+0100–U+FFFF count 1, beyond
  that 2; the sum is rounded up.
- Telegram (contract §6): UTF-16 code units, which is safe whether Telegram counts those or code points.
- WeChat (contract §1): 字 read as code points; content must stay under 20,000 (its <1 MB cap cannot bind
  first, since 19,999 code points are at most 80 kB of UTF-8).
- Facebook (contract §7, not documented): 63,206 code points, the figure usually cited.
- LinkedIn (contract §8, unit unconfirmed): the reserved characters of the "little" text format are
  backslash-escaped. An escape may or may not count toward 3000, so the larger count, that of the escaped
  text, is used: `linkedin_length` takes the raw text, while the "commentary" limit counts the text as
  sent, already escaped.

Each limit also has `units`, a count that adds up over paragraphs (fitting sums it block by block):
units(a + "\n\n" + b) == units(a) + units("\n\n") + units(b), and ceil(units(text) / scale) is the count of
text as a paragraph of a longer post, framed by line breaks. Weibo's is `weibo_halves` (scale 2); for code
points, UTF-16 units and UTF-8 bytes it is the counter. X, Mastodon and Bluesky graphemes count the framed
text, because no additive count can equal theirs at a post's edges: twitter-text reads a post's first
character as one that may precede a URL, where after a line break it may start the domain (it finds
"xample.com" in "éxample.com", so X counts 24, but 23 for that line after a break); and a CR ending a text
is a grapheme of its own that the LF of a following break joins ("\r" + "\n\n" has 2 graphemes,
"\n\n" + "\r" 3). Those are the only places where units and counter differ.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import regex
from twitter_text import extract_urls_with_indices  # type: ignore[import-untyped, unused-ignore]
from twitter_text.regexp.spaces_group import spaces_group  # type: ignore[import-untyped, unused-ignore]
from twitter_text.regexp.valid_cctld import valid_cctld  # type: ignore[import-untyped, unused-ignore]
from twitter_text.regexp.valid_gtld import valid_gtld  # type: ignore[import-untyped, unused-ignore]
from twitter_text.regexp.valid_punycode import valid_punycode  # type: ignore[import-untyped, unused-ignore]

from .memo import Memo

__all__ = [
    "LIMITS",
    "TextLimit",
    "bluesky_length",
    "facebook_length",
    "linkedin_escape",
    "linkedin_length",
    "mastodon_length",
    "over_limit",
    "telegram_length",
    "too_long",
    "wechat_length",
    "weibo_halves",
    "weibo_length",
    "x_length",
    "x_valid_chars",
]

URL_WEIGHT = 23
_X_INVALID = frozenset("\ufffe\ufeff\uffff\u202a\u202b\u202c\u202d\u202e")
_EMOJI_UNIT = r"(?:\p{Emoji_Modifier_Base}\p{Emoji_Modifier}|\p{Extended_Pictographic}\uFE0F?)"
# The emoji sequences of twitter-text's tokenizer, in the order it tries them; each weighs 2.
_X_EMOJI = regex.compile(
    r"\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F"
    r"|[#*0-9]\uFE0F?\u20E3"
    r"|\p{Regional_Indicator}{2}"
    rf"|{_EMOJI_UNIT}(?:\u200D{_EMOJI_UNIT})*"
)
# A sequence longer than one code point holds, after its first, U+200D, U+20E3 or U+FE0F, or one of
# these astral ones: a regional indicator, a skin tone (Emoji_Modifier) or a tag.
_X_EMOJI_ASTRAL = regex.compile(r"[\U0001F1E6-\U0001F1FF\U0001F3FB-\U0001F3FF\U000E0020-\U000E007F]")
# X's light code points, U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F and U+2032–U+2037, by UTF-16 unit:
# high byte below 0x11, or high byte 0x20 and a low byte in the light part of that block.
_X_LIGHT_HIGH = bytes(range(0x11))
_X_BLOCK_20 = bytes(int(i == 0x20) for i in range(256))
_X_LIGHT_IN_20 = bytes(int(i <= 0x0D or 0x10 <= i <= 0x1F or 0x32 <= i <= 0x37) for i in range(256))

_GRAPHEME = regex.compile(r"\X")
# Code points that may share a grapheme cluster with a neighbour: CR, Extend, ZWJ, SpacingMark,
# Prepend, the conjoining jamo L, V and T, regional indicators, and Indic_Conjunct_Break Linker and
# Extend (the regex module's \X joins a Linker to a following consonant). Between two code points that
# are none of these there is always a boundary, and no rule looks back across one.
_JOINING = regex.compile(
    r"(?V1)[[^\p{GCB=Other}\p{GCB=Control}\p{GCB=LF}\p{GCB=LV}\p{GCB=LVT}]\p{InCB=Linker}\p{InCB=Extend}]+"
)

# URL extraction is local: no URL twitter-text finds holds one of its spaces, and a piece of text that
# starts with one is scanned as the whole text scans it there. So the extractor, which is slow, only
# runs on the pieces between spaces that may hold a URL, each with the space before it.
_SPACE = re.compile(f"[{spaces_group}]")
_SPACE_BEFORE = regex.compile(f"(?r)[{spaces_group}]")
_SCHEME = re.compile(r"https?://", re.IGNORECASE)
# A domain ends in a '.' and a TLD: letters, or "xn--". Group 1 is the ASCII run after a '.' when no
# non-ASCII character follows the run (else the '.' is kept as a candidate unchecked).
_TLD_RUN = r"0-9A-Za-z@+\-"
_TLD_DOT = re.compile(rf"\.(?=[^\x00-\x7f]|[{_TLD_RUN}])(?:([{_TLD_RUN}]++)(?![^\x00-\x7f]))?")
_TLD = re.compile(f"(?:{valid_gtld.pattern}|{valid_cctld.pattern}|{valid_punycode.pattern})", re.IGNORECASE)

_MASTODON_MENTION = regex.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)@\w+(?:[.-]+\w+)*", regex.I)
_LINKEDIN_RESERVED = re.compile(r"[\\|{}@\[\]()<>#*_~]")  # ASCII: re scans it faster than regex
_LINKEDIN_HASHTAG = regex.compile(r"(?<!\S)#(?=[\p{L}\p{N}])")


@functools.lru_cache(maxsize=4096)
def _tld_follows(run: str) -> bool:
    """Whether a TLD of twitter-text starts `run`, an ASCII run after a '.' that a non-TLD character ends."""
    return _TLD.match(run) is not None


@functools.lru_cache(maxsize=2048)
def _window_urls(window: str) -> tuple[tuple[int, int, bool], ...]:
    """(start, stop, has a scheme) of the URLs the extractor finds; those with a scheme are the same without bare."""
    return tuple(
        (*url["indices"], _SCHEME.match(url["url"]) is not None) for url in extract_urls_with_indices(window, True)
    )


def _window(text: str, at: int) -> tuple[int, int]:
    """The piece of text around `at` between spaces, with the space before it (none at the start)."""
    before = _SPACE_BEFORE.search(text, 0, at)
    after = _SPACE.search(text, at)
    return (before.start() if before else 0), (after.start() if after else len(text))


def _url_spans(text: str, bare: bool) -> list[tuple[int, int]]:
    """(start, stop) of each URL that extract_urls_with_indices(text, bare) finds, in order.

    A URL has a '.' before its TLD, and one with a scheme has '://': only the pieces holding such a
    mark are extracted.
    """
    if bare:
        marks = [m.start() for m in _TLD_DOT.finditer(text) if m[1] is None or _tld_follows(m[1])]
    else:
        marks, at = [], text.find("://")
        while at >= 0:
            marks.append(at)
            at = text.find("://", at + 3)
    spans: list[tuple[int, int]] = []
    end = -1
    for mark in marks:
        if mark >= end:
            start, end = _window(text, mark)
            spans += [(start + a, start + b) for a, b, scheme in _window_urls(text[start:end]) if bare or scheme]
    return spans


def _x_heavy(text: str) -> int:
    """How many code points of text weigh 2 on X, as they do outside X's light ranges."""
    if text.isascii():
        return 0
    units = text.encode("utf-16-be", "surrogatepass")
    high, low = units[::2], units[1::2]
    # Units at or above U+1100, once per astral character (two surrogates), less the light ones at U+20xx.
    heavy = len(high.translate(None, _X_LIGHT_HIGH)) - (len(high) - len(text))
    if 0x20 in high:
        block = int.from_bytes(high.translate(_X_BLOCK_20), "big")
        heavy -= (block & int.from_bytes(low.translate(_X_LIGHT_IN_20), "big")).bit_count()
    return heavy


def _may_hold_emoji_sequence(text: str) -> bool:
    if "\u200d" in text or "\u20e3" in text or "\ufe0f" in text:
        return True
    return len(text.encode("utf-16-le", "surrogatepass")) > 2 * len(text) and bool(_X_EMOJI_ASTRAL.search(text))


def x_length(text: str) -> int:
    """X weighted length (twitter-text v3)."""
    text = unicodedata.normalize("NFC", text)
    spans = _url_spans(text, bare=True)
    total = len(text) + _x_heavy(text)
    for start, stop in spans:
        total += URL_WEIGHT - (stop - start) - _x_heavy(text[start:stop])
    if not text.isascii() and _may_hold_emoji_sequence(text):
        bounds = [0, *(i for span in spans for i in span), len(text)]
        for start, stop in zip(bounds[::2], bounds[1::2], strict=True):
            for match in _X_EMOJI.finditer(text, start, stop):
                if len(sequence := match[0]) > 1:
                    total += 2 - len(sequence) - _x_heavy(sequence)
    return total


def _x_units(text: str) -> int:
    """X's count of text as a paragraph, after a line break (see the module docstring)."""
    return x_length("\n" + text) - 1


def x_valid_chars(text: str) -> list[str]:
    """The characters that make a post invalid on X, each once, in order of appearance."""
    if text.isascii() or _X_INVALID.isdisjoint(text):  # every invalid character is beyond ASCII
        return []
    return list(dict.fromkeys(c for c in text if c in _X_INVALID))


@functools.cache
def _joining_class() -> str:
    """The code points that may be _JOINING, as a class body: those of the BMP exactly, and every
    astral one. The re module scans a BMP class several times faster than the regex module scans
    properties."""
    bmp = "".join(map(chr, range(0x10000)))
    ranges = "".join(rf"\u{m.start():04x}-\u{m.end() - 1:04x}" for m in _JOINING.finditer(bmp))
    return rf"{ranges}\U00010000-\U0010ffff"


@functools.cache
def _maybe_joining() -> re.Pattern[str]:
    """A run of code points that may be _JOINING."""
    return re.compile(f"[{_joining_class()}]+")


@functools.cache
def _not_joining() -> re.Pattern[str]:
    """A run of code points that cannot join, possibly empty: matching it takes half the time of
    searching for the others."""
    return re.compile(f"[^{_joining_class()}]*")


def _joining_runs(text: str) -> Iterator[tuple[int, int]]:
    """(start, stop) of each run of code points that may be _JOINING, in order."""
    skip, run, at = _not_joining().match, _maybe_joining().match, 0
    while (gap := skip(text, at)) and (found := run(text, gap.end())):  # a gap always matches, maybe empty
        yield found.span()
        at = found.end()


def _graphemes(text: str) -> int:
    r"""Extended grapheme clusters, as the regex module's \X finds them.

    A code point between two that cannot join (or the text's edge) is a cluster of its own, so \X only
    runs on each stretch of joining code points with the code point on either side.
    """
    if text.isascii():
        return len(text) - text.count("\r\n")
    count = len(text)
    regions: list[list[int]] = []
    for start, stop in _joining_runs(text):
        for match in _JOINING.finditer(text, start, stop):
            low, high = max(match.start() - 1, 0), min(match.end() + 1, count)
            if regions and low < regions[-1][1]:
                regions[-1][1] = high
            else:
                regions.append([low, high])
    for low, high in regions:
        count -= high - low - len(_GRAPHEME.findall(text[low:high]))
    return count


def _mention_free(part: str) -> str:
    return _MASTODON_MENTION.sub(r"@\1", part) if "@" in part else part


def _mastodon_countable(text: str) -> str:
    spans = _url_spans(text, bare=False)
    if not spans:
        return _mention_free(text)
    pieces, end = [], 0
    for start, stop in spans:
        pieces += [_mention_free(text[end:start]), "x" * URL_WEIGHT]
        end = stop
    pieces.append(_mention_free(text[end:]))
    return "".join(pieces)


def mastodon_length(text: str, spoiler: str = "") -> int:
    """Mastodon length: graphemes of spoiler and status; URLs count 23, remote mentions only @user."""
    return _graphemes(spoiler) + _graphemes(_mastodon_countable(text))


def _mastodon_units(text: str) -> int:
    """Mastodon's count of text as a paragraph, between line breaks (see the module docstring): the
    text's own, less a final CR (a URL or a mention never ends in one). Paragraphs with no URL and no
    mention are counted as Bluesky counts them, so the two channels share the count."""
    return _paragraph_graphemes(_mastodon_countable(text))


def _utf8_bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def bluesky_length(text: str) -> tuple[int, int]:
    """Bluesky length as (graphemes, UTF-8 bytes); the limits are 300 and 3000."""
    return _graphemes(text), _utf8_bytes(text)


def weibo_halves(text: str) -> int:
    """Weibo length in half 汉字 units: Latin-1 counts 1, the rest of the BMP 2, astral characters 4."""
    if text.isascii():
        return len(text)
    latin1 = len(text.encode("latin-1", "ignore"))
    astral = len(text.encode("utf-16-le", "surrogatepass")) // 2 - len(text)
    return 2 * len(text) - latin1 + 2 * astral


def weibo_length(text: str) -> int:
    """Weibo length in 汉字 units: Latin-1 counts ½, the rest of the BMP 1, astral characters 2; rounded up."""
    return (weibo_halves(text) + 1) // 2


def telegram_length(text: str) -> int:
    """Telegram length in UTF-16 code units."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2


def wechat_length(text: str) -> int:
    """WeChat length in code points (title ≤32, digest ≤128, content <20,000)."""
    return len(text)


def facebook_length(text: str) -> int:
    """Facebook length in code points (63,206 is the limit usually cited)."""
    return len(text)


def linkedin_escape(text: str, keep_hashtags: bool = False) -> str:
    r"""Backslash-escape LinkedIn's reserved characters `\ | { } @ [ ] ( ) < > # * _ ~`.

    With keep_hashtags, a '#' that starts a hashtag (at the start or after whitespace, before a letter or
    digit) stays bare so LinkedIn links it; everything else is still escaped.
    """
    if not _LINKEDIN_RESERVED.search(text):  # most text holds none
        return text
    kept = {m.start() for m in _LINKEDIN_HASHTAG.finditer(text)} if keep_hashtags else set()
    return _LINKEDIN_RESERVED.sub(lambda m: m[0] if m.start() in kept else "\\" + m[0], text)


def linkedin_length(text: str, keep_hashtags: bool = True) -> int:
    """LinkedIn length of raw text: the larger of its code points and those of its escaped form."""
    return max(len(text), len(linkedin_escape(text, keep_hashtags)))


def _code_points(text: str) -> int:
    return len(text)


# The counters that scan a whole text, remembered: a channel's text recurs from post to post when
# the blocks it drops to fit are the ones whose figures changed. Graphemes are remembered for
# paragraphs too: Mastodon and Bluesky count the same ones.
_x_count = Memo(x_length, 512)
_mastodon_count = Memo(mastodon_length, 512)
_grapheme_count = Memo(_graphemes, 4096)


def _paragraph_graphemes(text: str) -> int:
    """Graphemes of text as a paragraph: a final CR joins the LF of the break after it."""
    return _grapheme_count(text) - text.endswith("\r")


@dataclass(frozen=True)
class TextLimit:
    r"""One limit on one field of a channel type: `counter(text)` must not exceed `limit`.

    `units` is an additive count in 1/`scale` units: units(a + "\n\n" + b) == units(a) + units("\n\n") +
    units(b), and ceil(units(text) / scale) is the count of text as a paragraph,
    counter("\n" + text + "\n") - counter("\n\n"); that is counter(text) but at a post's very edges (see the
    module docstring). None means the counter itself is additive. `per_char` bounds `units`: no code point
    adds more than that many (None where a few characters may count much more, as a URL counts 23), so a
    text of at most limit * scale / per_char code points fits without being counted.
    """

    channel_type: str
    field: str
    limit: int
    counter: Callable[[str], int]
    unit: str
    units: Callable[[str], int] | None = None
    scale: int = 1
    per_char: int | None = 1


LIMITS: dict[str, tuple[TextLimit, ...]] = {
    "wechat": (
        TextLimit("wechat", "title", 32, wechat_length, "characters", wechat_length),
        TextLimit("wechat", "digest", 128, wechat_length, "characters", wechat_length),
        TextLimit("wechat", "content", 19_999, wechat_length, "characters", wechat_length),
    ),
    "weibo": (TextLimit("weibo", "status", 140, weibo_length, "汉字 units", weibo_halves, scale=2, per_char=4),),
    "x": (TextLimit("x", "text", 280, _x_count, "weighted characters", _x_units, per_char=None),),
    "mastodon": (TextLimit("mastodon", "status", 500, _mastodon_count, "characters", _mastodon_units, per_char=None),),
    "bluesky": (
        TextLimit("bluesky", "text", 300, _grapheme_count, "graphemes", _paragraph_graphemes),
        TextLimit("bluesky", "text", 3000, _utf8_bytes, "UTF-8 bytes", _utf8_bytes, per_char=4),
    ),
    "telegram": (
        TextLimit("telegram", "caption", 1024, telegram_length, "UTF-16 code units", telegram_length, per_char=2),
        TextLimit("telegram", "text", 4096, telegram_length, "UTF-16 code units", telegram_length, per_char=2),
    ),
    "facebook": (TextLimit("facebook", "message", 63_206, facebook_length, "characters", facebook_length),),
    "linkedin": (TextLimit("linkedin", "commentary", 3000, _code_points, "characters (escaped)", _code_points),),
    "webhook": (),
    "outbox": (),
}


def over_limit(channel_type: str, field: str, text: str) -> list[str]:
    """One message per limit of this channel field that `text` exceeds; empty when it fits."""
    counted = ((limit, limit.counter(text)) for limit in LIMITS.get(channel_type, ()) if limit.field == field)
    return [too_long(limit, count) for limit, count in counted if count > limit.limit]


def too_long(limit: TextLimit, count: int) -> str:
    return f"{limit.channel_type} {limit.field}: {count} {limit.unit}; the limit is {limit.limit}"
