"""User text inside Markdown: shown as typed, shortened, fetching nothing."""

import pytest

from ui.text import plain, shorten


@pytest.mark.parametrize("name, shown", [
    ("mnist_cnn", "mnist_cnn"),
    ("Folder: pets", "Folder: pets"),
    ("**bold**", r"\*\*bold\*\*"),
    ("![x](http://example.com/t.png)", r"\!\[x\](http://example.com/t.png)"),
    (":red[alert] :smile:", r"\:red\[alert\] \:smile:"),
    ("_under_", r"\_under\_"),
    ("<img src=x>", r"\<img src=x\>"),
    ("# title", r"\# title"),
])
def test_markdown_characters_are_escaped(name, shown):
    assert plain(name) == shown


def test_names_are_shortened_to_the_limit_on_one_line(monkeypatch):
    assert shorten("a" * 5094) == "a" * 59 + "…" and len(shorten("a" * 5094)) == 60
    assert shorten("two\nlines   here") == "two lines here"
    monkeypatch.setenv("CNNLAB_MAX_NAME_LENGTH", "10")
    assert shorten("abcdefghijklmnop") == "abcdefghi…"
    assert plain("x" * 500, 100).endswith("…") and len(plain("x" * 500, 100)) == 100


def test_markdown_renders_an_escaped_name_as_plain_text():
    """Checked against a CommonMark renderer: no image, no emphasis, the same characters."""
    markdown_it = pytest.importorskip("markdown_it")
    name = "**x** ![i](http://e.com/a.png) _y_ `z`"
    html = markdown_it.MarkdownIt().render(plain(name))
    assert "<img" not in html and "<strong>" not in html and "<em>" not in html and "<code>" not in html
    assert "http://e.com/a.png" in html
