"""A post's blocks in one language, prepared once for every channel variant made from them.

Ten channels read the same blocks: each block's plain text, article HTML and LinkedIn text are
looked up once per post here instead of once per channel, and a variant's text is a join of the
kept blocks' pieces.
"""

from __future__ import annotations

from collections.abc import Collection
from itertools import filterfalse

from ..model import Block
from .blocks import SEPARATOR, block_text
from .memo import Memo

Piece = Memo[Block, str]


class Draft:
    """The blocks, their drop order, and each piece function's pieces of them (made on first use)."""

    __slots__ = ("_all", "_lengths", "_pieces", "_whole", "blocks", "order")

    def __init__(self, blocks: tuple[Block, ...]) -> None:
        self.blocks = blocks
        self.order = drop_order(blocks)
        self._all = tuple(range(len(blocks)))
        self._pieces: dict[Piece, tuple[str, ...]] = {}
        self._lengths: dict[tuple[Piece, int], int] = {}
        self._whole: dict[tuple[Piece, str], str] = {}

    def pieces(self, piece: Piece) -> tuple[str, ...]:
        found = self._pieces.get(piece)
        if found is None:
            found = self._pieces[piece] = tuple(piece.many(self.blocks))
        return found

    def length(self, piece: Piece, separator: int) -> int:
        """Code points of all the pieces, each with a separator of that length: at least the joined text's."""
        found = self._lengths.get((piece, separator))
        if found is None:
            pieces = self.pieces(piece)
            separators = separator * (len(pieces) - pieces.count(""))  # one per non-empty piece
            found = self._lengths[piece, separator] = sum(map(len, pieces)) + separators
        return found

    def keep(self, gone: Collection[int]) -> tuple[int, ...]:
        """The indexes of the blocks left when those `gone` are dropped, for kept() and join()."""
        return tuple(filterfalse(gone.__contains__, self._all)) if gone else self._all

    def kept(self, keep: tuple[int, ...]) -> tuple[Block, ...]:
        return self.blocks if keep is self._all else tuple(map(self.blocks.__getitem__, keep))

    def join(self, piece: Piece, keep: tuple[int, ...], separator: str = SEPARATOR) -> str:
        """The kept blocks' non-empty pieces, joined: with block_text, the post's plain text. Most
        channels keep every block, so the whole join is made once."""
        if keep is not self._all:
            return separator.join(filter(None, map(self.pieces(piece).__getitem__, keep)))
        found = self._whole.get((piece, separator))
        if found is None:
            found = self._whole[piece, separator] = separator.join(filter(None, self.pieces(piece)))
        return found

    def text(self, keep: tuple[int, ...]) -> str:
        return self.join(block_text, keep)


def drop_order(blocks: tuple[Block, ...]) -> tuple[int, ...]:
    """The optional blocks' indexes, lowest `optional=N` first and, among equals, the later first."""
    ranked = sorted((b.optional, -i) for i, b in enumerate(blocks) if b.optional is not None)
    return tuple(-i for _, i in ranked)
