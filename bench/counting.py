"""Length counters: median microseconds per call (target: under 60 µs on a 1,562-character post).

    python bench/counting.py [--calls N]

Posts are realistic sentences (the example article's) repeated up to the length, closed by a paragraph
break and the channel link, as fitting sends them. Columns:
  - "warm": the counters' small caches (the URL extractor's result per space-delimited piece, and which
    ASCII runs are TLDs) hold the post's pieces, as when the same link closes every post;
  - "cold": those caches are cleared before every call, so the URL extractor runs on every link.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.compose import counting

LINK = "https://example.com/shenyang-profile"
EN = [
    "Foreign fund and foreign enterprises have come in droves, the China-Europe freight trains connect.",
    "International flights reach every corner of the world. This is Shenyang!",
    "Shenyang has constantly broadened its vision of international exchanges.",
    "It has expanded the pattern of opening up and innovated urban communication.",
    'Zhejiang University recently released the "2022 China City International Communication Impact Index".',
    "Shenyang ranks No.1 in Northeast China!",
    "At present, there are 23 sister cities and 78 cities with friendly cooperative relations in Shenyang.",
    "As of December last year, Shenyang has achieved trade exchanges with more than 220 countries and regions.",
    "Shenyang has built 3 international communities, 6 international schools and 1 international hospital.",
    "Open, inclusive and energetic! This is Shenyang!",
]
ZH = [
    "外资外企纷至沓来，中欧班列连接万里，国际航班通达世界各地……这就是沈阳！",
    "沈阳不断拓宽国际交往视野，扩大对外开放格局，创新城市传播方式。",
    "浙江大学近日发布《2022中国城市国际传播影响力指数》。",
    "沈阳城市国际传播影响力在含港澳台地区在内的全国城市中位列第16位，位列东北第1！",
    "目前，沈阳已有23个国际友好城市、78个友好合作关系城市。",
    "截至去年12月，沈阳已与220多个国家和地区实现贸易往来。",
    "开放、包容、活力！这就是沈阳！",
]


def post(sentences: list[str], length: int, separator: str) -> str:
    """Sentences in turn, a paragraph break every third, cut to `length` with the link at the end."""
    tail = f"\n\n{LINK}"
    body, n = "", 0
    while len(body) < length:
        body += sentences[n % len(sentences)] + ("\n\n" if n % 3 == 2 else separator)
        n += 1
    return body[: length - len(tail)].rstrip() + tail


def _clear() -> None:
    counting._window_urls.cache_clear()
    counting._tld_follows.cache_clear()


def median_us(count: Callable[[str], object], text: str, calls: int, cold: bool) -> float:
    count(text)
    times = []
    for _ in range(calls):
        if cold:
            _clear()
        start = time.perf_counter_ns()
        count(text)
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000


COUNTERS: dict[str, Callable[[str], object]] = {
    "x_length": counting.x_length,
    "mastodon_length": counting.mastodon_length,
    "bluesky graphemes": counting._graphemes,  # the limit's counter remembers texts: this is its work
    "bluesky UTF-8 bytes": counting.LIMITS["bluesky"][1].counter,
    "weibo_length": counting.weibo_length,
    "telegram_length": counting.telegram_length,
    "wechat/facebook_length": counting.wechat_length,
    "linkedin_length": counting.linkedin_length,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    texts = {
        "en": post(EN, 1562, " "),
        "en 100": post(EN, 100, " "),
        "zh": post(ZH, 1562, ""),
        "zh 100": post(ZH, 100, ""),
    }
    columns = [(name, cold) for name in texts for cold in (False, True)]
    heads = [f"{name} ({len(texts[name]):,}) {'cold' if cold else 'warm'}" for name, cold in columns]
    print(f"| {'µs per call (median)':<24} | " + " | ".join(f"{h:>18}" for h in heads) + " |")
    print(f"|{'-' * 26}|" + "|".join("-" * 20 for _ in heads) + "|")
    for label, count in COUNTERS.items():
        cells = [median_us(count, texts[name], args.calls, cold) for name, cold in columns]
        print(f"| {label:<24} | " + " | ".join(f"{c:>18.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
