"""Serve the app with TensorFlow and the shipped model loading from the start (what ``make run`` does).

    python -m ui.serve [any option of ``streamlit run``, e.g. --server.port 8600]

``streamlit run app.py`` runs none of the app before a browser connects, so TensorFlow's import
(2 to 4 s alone here) and the shipped model's load waited for the first visitor. A class that opens
the server at once paid it together, with eight pages drawing meanwhile: in the classroom benchmark
the first visit of the Data page took 20 to 28 s, most of it behind that import. Here the load starts
in a thread as the server starts, and the log says when it is done.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"
READY = "CNN Lab: TensorFlow and the shipped model are loaded"  # the log line, once they are


def preload() -> None:
    """Load TensorFlow and the shipped model in a thread (``ui.shipped``); every session then finds them loaded."""
    import pandas  # noqa: F401  (here, before the thread's TensorFlow import imports it too: see app.py)

    import core  # noqa: F401  (TensorFlow's environment, before anything imports it)
    from ui.shipped import preload_shipped_model

    def report(seconds: float, error: Exception | None) -> None:
        line = (f"{READY} ({seconds:.1f} s)" if error is None else
                f"CNN Lab: the shipped model could not be loaded ahead: {error}")
        print(line, file=sys.stderr, flush=True)

    preload_shipped_model(report)  # app.py's own call, after a first page, then has nothing left to start


def main(argv: list[str] | None = None) -> None:
    options = sys.argv[1:] if argv is None else argv
    preload()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *options]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
