"""User text (model, class and file names) shown as plain text inside Markdown.

A name is whatever its user typed or uploaded: ``**bold**``, ``![x](http://...)``, ``:red[...]``
or 5,000 characters. ``plain`` shortens it and escapes every character Markdown or Streamlit's
Markdown extensions give a meaning to, so it reads exactly as typed and fetches nothing.
"""

from __future__ import annotations

import re

from core.settings import limits

# CommonMark lets a backslash escape any ASCII punctuation; Streamlit's :colour[...] and
# :material/...: directives and emoji short codes start with ":", so that is escaped too.
# An "_" inside a word (``mnist_cnn``) is literal in CommonMark, and stays as typed.
# A ":" starts a directive or an emoji code only when a letter follows (``:red[``, ``:smile:``).
_SPECIAL = re.compile(r"([\\`*\[\]<>#!|~$]|:(?=[A-Za-z])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def shorten(text, limit: int | None = None) -> str:
    """``text`` on one line, at most ``limit`` characters (``max_name_length`` by default), with "…" when cut."""
    limit = limit or limits().max_name_length
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain(text, limit: int | None = None) -> str:
    """``text`` shortened and escaped, to put inside a Markdown string: ``f"Loaded **{plain(name)}**"``."""
    return _SPECIAL.sub(r"\\\1", shorten(text, limit))
