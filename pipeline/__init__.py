"""Shortline: facts become short-line posts and image cards, queued for editors, published unattended."""

__version__ = "0.1.0"
