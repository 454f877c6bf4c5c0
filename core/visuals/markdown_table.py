"""A small table as Markdown text, for ``st.markdown``: drawn at once, with no data-grid code to load.

``st.dataframe`` draws on a canvas from a 1.2 MB script that each browser tab loads on its first
table (the Filters page's first visit spent about 0.5 s of the browser's time there, on the
2-core machines here); a table of a few dozen rows needs none of its sorting or scrolling.
"""

from __future__ import annotations

from typing import Callable, Sequence


def markdown_table(columns: dict[str, Sequence], formats: dict[str, Callable[[object], str]] | None = None) -> str:
    """``columns`` (header -> values, all of one length) as a Markdown table; ``formats`` turn a value to text."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"Expected columns of one length. Received: lengths={sorted(lengths)}")
    formats = formats or {}

    def cell(header: str, value) -> str:
        text = formats[header](value) if header in formats else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    headers = list(columns)
    rows = zip(*columns.values())
    return "\n".join(["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
                     + ["| " + " | ".join(cell(h, v) for h, v in zip(headers, row)) + " |" for row in rows])
