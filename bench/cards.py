"""Card rendering speed: the 1080x1350 Chinese stat card, against the render-speed targets.

    python bench/cards.py [--repeat N] [--cards N] [--starts N] [--batch N] [--no-png-table]

Every timing row renders templates/cards/stat.yaml in Chinese (lang zh) at 1080x1350: the subject
沈阳, a figure, the label 个国际友好城市 and the source line 来源：沈阳发布微信公众号，2023年2月16日.
Each row is the median of --repeat passes of --cards cards; the ratio is median / target, so a
ratio at or below 1.00 meets the target (the whole-card row is the exception, see below).
Rows:
  - "layout+raster, same card": layout_card() + draw_card() of one context, again and again (warm);
  - "layout+raster, new figure every card": as above, but every card shows a number no earlier card
    showed, so the figure is fitted, shaped and rasterised afresh (the other text may be cached);
  - "encode (encode_png)": encode_png() of each of those new-figure cards, as timed in the whole card;
  - "encoder floor": the same encoder (encode_png) alone, again and again on one finished image;
  - "whole card (layout+raster+encode)": a new-figure card from context to PNG bytes; its ratio
    column is whole / floor, against the target of 1.3 (so here the ratio must not exceed 1.3);
  - "first card after process start": from spawning a fresh `python -c "import first_card; ..." OUT`
    (bench/first_card.py, loaded from its bytecode as an installed module would be)
    to its PNG written: interpreter, imports (pipeline.templating, pipeline.render), template load,
    one card rendered and stored (median of --starts processes; a breakdown follows the table,
    with "process" the whole process to exit). The template is checked by the first process only:
    later ones read the checked form from var/cache/cards (pipeline/render/template_cache.py).
    pipeline/ is compiled to bytecode first, as an installed package is: where
    PYTHONDONTWRITEBYTECODE is set, every process would otherwise compile it from source (~30 ms);
  - "peak RSS, N stat cards": ru_maxrss of a fresh process that renders N stat cards (layout,
    raster and PNG bytes, not written), each with a new figure, so no cache can hand back one image;
  - "peak RSS, N mixed cards": as above over all five templates, four sizes and both languages,
    with every count and rank varied per card (the slogan card has no figure, so it repeats).
Two more tables compare PNG settings, on the last stat card and summed over the 40 example cards
(5 templates x 4 sizes x 2 languages): encode_png() (rows unfiltered) at several zlib levels, and
Pillow's own PNG writer (adaptive per-row filters; level 6 default was encode_png before).
Numbers are medians of wall time; the machine may be shared, so compare runs, not single rows.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

if TYPE_CHECKING:
    import jinja2
    from PIL import Image

    from pipeline.model import Fact, FactSet
    from pipeline.render import CardTemplate

from first_card import SIZE, context  # noqa: E402  (bench/ is on the path: this is a script)

SIZES = [(1080, 1350), (1080, 1080), (1200, 675), (900, 383)]
TARGET_RASTER_MS = 3.0
TARGET_WHOLE_RATIO = 1.3
TARGET_FIRST_MS = 150.0
TARGET_RSS_MB = 150.0
PILLOW_SETTINGS = [(1, 0), (3, 0), (6, 0), (9, 0), (6, 3)]  # Pillow's (compress_level, zlib strategy)
STRATEGIES = {0: "default", 1: "filtered", 2: "huffman", 3: "rle", 4: "fixed"}


def setup() -> tuple[CardTemplate, jinja2.Environment]:
    from pipeline import templating
    from pipeline.render import load_card_template

    return load_card_template(REPO / "templates" / "cards" / "stat.yaml"), templating.environment(REPO / "templates")


def ms(seconds: float) -> float:
    return seconds * 1000


class Figures:
    """Numbers never shown before in this process, so every card is new to every cache."""

    def __init__(self) -> None:
        self.next = 1000

    def __call__(self) -> int:
        self.next += 7
        return self.next


def raster_samples(template: CardTemplate, env: jinja2.Environment, contexts: list[dict[str, Any]]) -> list[float]:
    from pipeline.render import layout_card
    from pipeline.render.draw import draw_card

    samples = []
    for ctx in contexts:
        start = time.perf_counter()
        draw_card(layout_card(template, ctx, SIZE, env))
        samples.append(ms(time.perf_counter() - start))
    return samples


def whole_samples(
    template: CardTemplate, env: jinja2.Environment, contexts: list[dict[str, Any]]
) -> tuple[list[float], list[float], Image.Image]:
    from pipeline.render import layout_card
    from pipeline.render.draw import draw_card, encode_png

    whole, encode = [], []
    image = None
    for ctx in contexts:
        start = time.perf_counter()
        image = draw_card(layout_card(template, ctx, SIZE, env))
        drawn = time.perf_counter()
        encode_png(image)
        end = time.perf_counter()
        whole.append(ms(end - start))
        encode.append(ms(end - drawn))
    assert image is not None
    return whole, encode, image


def floor_samples(image: Image.Image, count: int) -> list[float]:
    from pipeline.render.draw import encode_png

    samples = []
    for _ in range(count):
        start = time.perf_counter()
        encode_png(image)
        samples.append(ms(time.perf_counter() - start))
    return samples


def first_card_samples(starts: int) -> tuple[list[float], dict[str, float]]:
    import compileall
    import statistics
    import subprocess
    import tempfile

    compileall.compile_dir(REPO / "pipeline", quiet=1)
    compileall.compile_file(Path(__file__).with_name("first_card.py"), quiet=1)
    here = str(Path(__file__).parent)
    child = f"import sys; sys.path.insert(0, {here!r}); import first_card; first_card.main(sys.argv[1])"
    walls: list[float] = []
    parts: dict[str, list[float]] = {"interpreter": [], "imports": [], "card": [], "exit": [], "process": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(starts):
            spawned = time.time()
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", child, str(Path(tmp) / str(n))],
                check=True,
                capture_output=True,
                text=True,
            )
            parts["process"].append(ms(time.perf_counter() - start))
            exited = time.time()
            stamps = json.loads(done.stdout)
            walls.append(ms(stamps["written"] - spawned))
            parts["interpreter"].append(ms(stamps["started"] - spawned))
            parts["imports"].append(ms(stamps["imported"] - stamps["started"]))
            parts["card"].append(ms(stamps["written"] - stamps["imported"]))
            parts["exit"].append(ms(exited - stamps["written"]))
    return walls, {name: statistics.median(values) for name, values in parts.items()}


def batch(cards: int, mixed: bool) -> None:
    """Child mode: render `cards` cards, each with a new figure; print peak RSS in MB."""
    import hashlib
    import resource

    from pipeline import facts, templating
    from pipeline.render import layout_card, load_card_template
    from pipeline.render.draw import draw_card, encode_png

    env = templating.environment(REPO / "templates")
    names = sorted((REPO / "templates" / "cards").glob("*.yaml")) if mixed else [REPO / "templates/cards/stat.yaml"]
    templates = [load_card_template(path) for path in names]
    real = facts.load(REPO / "facts" / "shenyang.yaml") if mixed else None
    digests = set()
    for n in range(cards):
        template = templates[n % len(templates)]
        size = SIZES[(n // len(templates)) % len(SIZES)] if mixed else SIZE
        lang = ("en", "zh")[(n // (len(templates) * len(SIZES))) % 2] if mixed else "zh"
        ctx = with_figures(real, lang, n) if real else context(lang, 1000 + n)
        digests.add(hashlib.sha256(encode_png(draw_card(layout_card(template, ctx, size, env)))).digest())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    print(json.dumps({"peak_mb": peak, "distinct": len(digests)}))


def as_published(fact_set: FactSet, lang: str) -> dict[str, Any]:
    return {"lang": lang, "subject": fact_set.subject[lang], "facts": fact_set.facts, "source": fact_set.source}


def with_figures(fact_set: FactSet, lang: str, n: int) -> dict[str, Any]:
    """The real facts with the sister cities raised by n, the other counts by n % 90 (the list
    card's boxes hold two digits) and every rank set to 1 + n % 90."""
    import dataclasses

    def value(key: str, fact: Fact) -> int:
        assert isinstance(fact.value, int)
        if fact.kind == "rank":
            return 1 + n % 90
        return fact.value + (n if key == "sister_cities" else n % 90)

    changed = {
        key: dataclasses.replace(fact, value=value(key, fact))
        for key, fact in fact_set.facts.items()
        if fact.kind in ("count", "rank") and isinstance(fact.value, int)
    }
    facts_now = fact_set.facts | changed
    return {"lang": lang, "subject": fact_set.subject[lang], "facts": facts_now, "source": fact_set.source}


def batch_peak(cards: int, mixed: bool) -> tuple[float, int]:
    import subprocess

    command = [sys.executable, __file__, "--batch-child", str(cards)] + (["--mixed"] if mixed else [])
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout)
    return float(result["peak_mb"]), int(result["distinct"])


def encoders() -> list[tuple[str, Callable[[Image.Image], bytes]]]:
    import functools
    import io

    from pipeline.render.draw import encode_png

    def pillow(level: int, strategy: int, image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, "PNG", optimize=False, compress_level=level, compress_type=strategy)
        return buffer.getvalue()

    result: list[tuple[str, Callable[[Image.Image], bytes]]] = [
        (f"encode_png(level={level}), unfiltered", functools.partial(encode_png, level=level))
        for level in (1, 3, 6, 7, 9)
    ]
    result += [
        (f"Pillow level {level}, {STRATEGIES[strategy]}", functools.partial(pillow, level, strategy))
        for level, strategy in PILLOW_SETTINGS
    ]
    return result


def png_table(images: list[Image.Image], repeat: int, title: str) -> list[str]:
    """Bytes and milliseconds of each PNG setting, summed over `images` (medians of `repeat`)."""
    import statistics

    rows = [f"| {title:<34} | {'bytes':>10} | {'median ms':>9} |", f"|{'-' * 36}|{'-' * 12}|{'-' * 11}|"]
    for name, encode in encoders():
        total_ms, total_bytes = 0.0, 0
        for image in images:
            samples = []
            for _ in range(repeat):
                start = time.perf_counter()
                size = len(encode(image))
                samples.append(ms(time.perf_counter() - start))
            total_ms += statistics.median(samples)
            total_bytes += size
        rows.append(f"| {name:<34} | {total_bytes:>10,} | {total_ms:>9.1f} |")
    return rows


def example_cards() -> list[Image.Image]:
    """All five templates, at the four sizes, in both languages, with the real facts (40 images)."""
    from pipeline import facts, templating
    from pipeline.render import layout_card, load_card_template
    from pipeline.render.draw import draw_card

    env = templating.environment(REPO / "templates")
    real = facts.load(REPO / "facts" / "shenyang.yaml")
    return [
        draw_card(layout_card(load_card_template(path), as_published(real, lang), size, env))
        for path in sorted((REPO / "templates" / "cards").glob("*.yaml"))
        for size in SIZES
        for lang in ("en", "zh")
    ]


def row(name: str, median: float, unit: str, target: float | None, ratio: float | None = None) -> str:
    goal = f"{target:g}" if target is not None else "-"
    shown = ratio if ratio is not None else (median / target if target else None)
    text = f"{shown:.2f}" if shown is not None else "-"
    return f"| {name:<50} | {median:>9.1f} | {unit:<4} | {goal:>7} | {text:>6} |"


def main() -> None:
    import argparse
    import statistics

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="passes per timing row")
    parser.add_argument("--cards", type=int, default=30, help="cards per pass")
    parser.add_argument("--starts", type=int, default=7, help="fresh processes for the first-card row")
    parser.add_argument("--batch", type=int, default=1000, help="cards in the peak-RSS batch")
    parser.add_argument("--no-png-table", action="store_true", help="skip the PNG settings table")
    parser.add_argument("--batch-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mixed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.batch_child is not None:
        return batch(args.batch_child, args.mixed)

    template, env = setup()
    figures = Figures()
    same = context("zh")
    raster_samples(template, env, [same] * 3)  # warm: fonts opened, caches filled
    same_raster, new_raster, whole, encode, floor = [], [], [], [], []
    image = None
    for _ in range(args.repeat):
        same_raster.append(statistics.median(raster_samples(template, env, [same] * args.cards)))
        fresh = [context("zh", figures()) for _ in range(args.cards)]
        new_raster.append(statistics.median(raster_samples(template, env, fresh)))
        fresh = [context("zh", figures()) for _ in range(args.cards)]
        w, e, image = whole_samples(template, env, fresh)
        whole.append(statistics.median(w))
        encode.append(statistics.median(e))
        floor.append(statistics.median(floor_samples(image, max(5, args.cards // 3))))
    assert image is not None
    walls, parts = first_card_samples(args.starts)
    stat_peak, stat_distinct = batch_peak(args.batch, mixed=False)
    mixed_peak, mixed_distinct = batch_peak(args.batch, mixed=True)

    floor_ms = statistics.median(floor)
    whole_ms = statistics.median(whole)
    print(f"| {'cards: stat, zh, 1080x1350':<50} | {'median':>9} | {'unit':<4} | {'target':>7} | {'ratio':>6} |")
    print(f"|{'-' * 52}|{'-' * 11}|{'-' * 6}|{'-' * 9}|{'-' * 8}|")
    print(row("layout+raster, same card (warm)", statistics.median(same_raster), "ms", TARGET_RASTER_MS))
    print(row("layout+raster, new figure every card (warm)", statistics.median(new_raster), "ms", TARGET_RASTER_MS))
    print(row("encode (encode_png)", statistics.median(encode), "ms", None))
    print(row("encoder floor (encode_png alone)", floor_ms, "ms", None))
    whole_name = "whole card (layout+raster+encode); ratio = / floor"
    print(row(whole_name, whole_ms, "ms", TARGET_WHOLE_RATIO, whole_ms / floor_ms))
    print(row("first card after process start (to PNG written)", statistics.median(walls), "ms", TARGET_FIRST_MS))
    print(row(f"peak RSS, {args.batch:,} stat cards ({stat_distinct:,} distinct)", stat_peak, "MB", TARGET_RSS_MB))
    print(row(f"peak RSS, {args.batch:,} mixed cards ({mixed_distinct:,} distinct)", mixed_peak, "MB", TARGET_RSS_MB))
    print()
    print(f"whole card / encoder floor = {whole_ms / floor_ms:.2f}x (target at most {TARGET_WHOLE_RATIO}x)")
    print("first card breakdown (median ms): " + ", ".join(f"{k} {v:.0f}" for k, v in parts.items()))
    if not args.no_png_table:
        print()
        print("\n".join(png_table([image], max(5, args.repeat), "PNG setting: this stat card")))
        print()
        print("\n".join(png_table(example_cards(), 3, "PNG setting: 40 example cards")))


if __name__ == "__main__":
    main()
