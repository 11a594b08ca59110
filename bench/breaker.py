"""Line breaker throughput: output lines per second, median of several passes (target 20,000/s).

    python bench/breaker.py [--repeat N]

Each pass breaks every paragraph of a realistic corpus (30-120 characters, the example article's
sentences) at four widths, with the default measures, on one core. Two rows per language:
  - "new paragraphs": every figure in the corpus is replaced by another of as many digits (the last
    digits of a counter), so that the paragraphs are new to the process, and the per-paragraph
    analysis cache is cleared before each width: budoux, UAX #14 and the phrase rules run again for
    every paragraph (shared per-character caches stay);
  - "re-broken": the analysis is cached, as when a card is fitted at several font sizes; only the
    dynamic programme runs (the lines broken at each width are forgotten before it).
"""

from __future__ import annotations

import argparse
import itertools
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.compose import breaker

TARGET = 20_000.0
FIGURE = re.compile(r"\d+")
FRESH = itertools.count(1)
WIDTHS = {"en": (16.0, 24.0, 32.0, 40.0), "zh": (8.0, 10.0, 12.0, 16.0)}
CORPUS = {
    "en": [
        "Foreign fund and foreign enterprises have come in droves, the China-Europe freight trains connect.",
        "International flights reach every corner of the world. This is Shenyang!",
        "Shenyang has constantly broadened its vision of international exchanges.",
        "It has expanded the pattern of opening up and innovated urban communication.",
        "While gaining higher attention at home and abroad, Shenyang has attracted many people.",
        "Shenyang has attracted a large number of international enterprises and people to invest and live here!",
        'Zhejiang University recently released the "2022 China City International Communication Impact Index".',
        "Its international communication impact ranks 16th among Chinese cities including Hong Kong.",
        "Shenyang ranks No.1 in Northeast China!",
        "In recent years, Shenyang has attached great importance to the promotion of the city.",
        "At present, there are 23 sister cities and 78 cities with friendly cooperative relations in Shenyang.",
        "The brand activities with Shenyang labels were released in dozens of countries and regions.",
        "A series of opening-up measures in Shenyang have been intensified.",
        "As of December last year, Shenyang has achieved trade exchanges with more than 220 countries and regions.",
        "Shenyang is the central city of foreign exchanges in Northeast China.",
        "More and more foreigners choose to come here to invest, study, work and live.",
        "Shenyang has built 3 international communities, 6 international schools and 1 international hospital.",
        "Open, inclusive and energetic! This is Shenyang!",
        "We welcome more domestic and foreign friends to take root and realize their dreams in Shenyang!",
        "The China International Equipment Manufacturing Exposition opens in September.",
    ],
    "zh": [
        "外资外企纷至沓来，中欧班列连接万里，国际航班通达世界各地……这就是沈阳！",
        "沈阳不断拓宽国际交往视野，扩大对外开放格局，创新城市传播方式，持续塑造城市国际形象！",
        "在国内外获得更高关注度的同时，沈阳吸引了大批国际企业和人士来此投资、生活！",
        "浙江大学近日发布《2022中国城市国际传播影响力指数报告》，沈阳位列全国城市第16位。",
        "沈阳城市国际传播影响力在含港澳台地区在内的全国城市中位列第16位，位列东北地区第一！",
        "近年来，沈阳高度重视城市国际化推广和城市形象国际传播工作，城市知名度不断提升。",
        "目前，沈阳已有23个国际友好城市和78个友好合作关系城市，朋友圈遍布世界各大洲。",
        "中国国际装备制造业博览会、全球工业互联网大会、国际赛艇大师赛等品牌活动精彩纷呈。",
        "借助中央媒体和海外主流媒体的对外窗口，带有沈阳标签的品牌活动在全球数十个国家和地区发布。",
        "沈阳一系列对外开放举措持续加力，营商环境不断优化，外资企业投资信心持续增强。",
        "截至去年12月，沈阳已与全球220多个国家和地区实现贸易往来，同比增长30.5%。",
        "沈阳是东北地区对外交往的中心城市，也是中欧班列“长安号”在东北的重要节点。",
        "随着沈阳国际影响力不断扩大，越来越多的外国人选择来这里投资、学习、工作和生活。",
        "截至去年8月，沈阳已建成3个国际化社区、6所国际化学校、1家国际医院和9家涉外定点医院。",
        "开放、包容、充满活力！欢迎更多国内外朋友来沈阳扎根、圆梦，共同书写美好未来！",
        "2023年全市进出口总额同比增长30.5%，外商直接投资突破10亿美元，创历史新高。",
        "“沈阳国际友人眼中的沈阳”主题派对在Hello Shenyang活动中心举行，200余名外籍人士参加。",
        "沈阳市民满意度连续3年位居全国前列，获评“最具幸福感城市”，城市吸引力持续增强。",
        "第11届全国大学生运动会在沈阳举行，来自全国的3000余名运动员参加了16个大项的比赛。",
        "沈阳桃仙国际机场已开通国际及地区航线60余条，通达日本、韩国、俄罗斯、德国等国家。",
    ],
}


def one_pass(lang: str, cold: bool) -> float:
    """Lines per second for breaking the whole corpus once at every width."""
    lines, elapsed = 0, 0.0
    corpus = [FIGURE.sub(_new_figure, text) for text in CORPUS[lang]] if cold else CORPUS[lang]
    for width in WIDTHS[lang]:
        breaker.cache_clear(analyses=cold)  # lines are always broken anew
        start = time.perf_counter()
        lines += sum(len(breaker.break_lines(text, lang, width)) for text in corpus)
        elapsed += time.perf_counter() - start
    return lines / elapsed


def _new_figure(figure: re.Match[str]) -> str:
    """Another figure of as many digits."""
    return str(next(FRESH) % 10 ** len(figure[0])).zfill(len(figure[0]))


def row(lang: str, cold: bool, repeat: int) -> str:
    one_pass(lang, cold)  # load budoux and fill the per-character caches
    median = statistics.median(one_pass(lang, cold) for _ in range(repeat))
    name = f"{lang}, {'new paragraphs' if cold else 're-broken'}"
    return f"| {name:<22} | {median:>12,.0f} | {TARGET:>10,.0f} | {median / TARGET:>6.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    repeat = parser.parse_args().repeat
    print(f"| {'breaker':<22} | {'lines/s':>12} | {'target':>10} | {'ratio':>6} |")
    print(f"|{'-' * 24}|{'-' * 14}|{'-' * 12}|{'-' * 8}|")
    for lang in CORPUS:
        for cold in (True, False):
            print(row(lang, cold, repeat))


if __name__ == "__main__":
    main()
