"""Opening app pages under Streamlit's AppTest, shared by the page tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page(page: str, at: AppTest | None = None, timeout: float = 180, user: str | None = None) -> AppTest:
    """Run ``page`` (a path like "pages/data.py") in ``at``, or in a new session through app.py.

    ``user`` opens the new session on that user's workspace instead of the machine user's.

    AppTest resets Streamlit's "uses a pages/ folder" flag before every run, so only
    the first run goes through app.py (router and sidebar); after switch_page it runs
    the page script alone. Every page therefore initialises the session itself, and
    the sidebar is checked on the first run. In a real server the flag is cleared for
    good by the first st.navigation call (ui.router.require_router).
    """
    if at is None:
        at = AppTest.from_file(APP, default_timeout=timeout)
        if user is not None:
            at.session_state["workspace_user"] = user
        at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_view(at: AppTest, key: str, label: str) -> AppTest:
    """Open the tab ``label`` of the page's lazy tabs ``key`` (``ui.views``), as a click on it does, and rerun."""
    at.session_state[key] = label
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def workspace_of(at: AppTest):
    """The live workspace (``ui.workspace``) the session ``at`` works in: its models, run, faces and choices."""
    from core.workspace import personal_user
    from ui.workspace import USER_KEY, workspace_for

    if USER_KEY in at.session_state:
        return workspace_for(at.session_state[USER_KEY])
    return workspace_for(at.session_state["identity"].workspace if "identity" in at.session_state else personal_user())


def load_folder(path, at: AppTest | None = None) -> AppTest:
    """Load the image folder ``path`` (one sub-folder per class) as the dataset on the Data page, as a user would."""
    at = open_page("pages/data.py", at)
    at.selectbox(key="data_name").set_value("folder").run()
    at.radio(key="data_where").set_value("server").run()
    at.text_input(key="data_path").input(str(path)).run()
    at.button(key="data_load").click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    return at


def widget_by_prefix(widgets, prefix: str):
    """The one widget whose key starts with ``prefix`` (upload and camera keys change after every use)."""
    found = [w for w in widgets if w.key.startswith(prefix)]
    assert len(found) == 1, [w.key for w in widgets]
    return found[0]


def train_to_end(at: AppTest, button_key: str, timeout: float = 120):
    """Click the page's train button, wait for the job, rerun: the job, checked to have ended well."""
    at.button(key=button_key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["job"]
    job.join(timeout=timeout)
    at.run()
    assert not at.exception and job.state == "done", job.snapshot().error
    return job


def sample_grids(at) -> list:
    """The Data page's grids of samples, one per class (not the augmentation preview's)."""
    return [img for img in at.get("image") if "random versions" not in str(img.proto)]


def plotly_array(value) -> np.ndarray:
    """A Plotly JSON array: a plain list, or a typed array ``{"dtype", "bdata", "shape"}``."""
    if isinstance(value, dict):
        import base64

        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return array.reshape([int(v) for v in str(shape).split(",")]) if shape else array
    return np.asarray(value, dtype=float)


def markdown_rows(at, first_header: str) -> list[dict[str, str]]:
    """The rows of the page's Markdown table whose first column is ``first_header`` (``core.visuals.markdown_table``),
    each a dict header -> cell text."""
    table = next(m.value for m in at.markdown if m.value.startswith(f"| {first_header} |"))
    lines = [[cell.strip().replace("\\|", "|") for cell in line.strip().strip("|").split(" | ")]
             for line in table.splitlines()]
    return [dict(zip(lines[0], row)) for row in lines[2:]]
