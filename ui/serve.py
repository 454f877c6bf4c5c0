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
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"
READY = "CNN Lab: TensorFlow and the shipped model are loaded"  # the log line, once they are


def warm_up() -> threading.Thread:
    """Load TensorFlow and the shipped model in a thread; every session then finds them loaded."""
    import pandas  # noqa: F401  (here, before the thread's TensorFlow import imports it too: see app.py)

    import core  # noqa: F401  (TensorFlow's environment, before anything imports it)
    from ui.shipped import shipped_model, started_preload

    def load() -> None:
        began = time.perf_counter()
        try:
            shipped_model()
        except Exception as exc:  # noqa: BLE001  (the page that needs the model loads it again and shows why)
            print(f"CNN Lab: the shipped model could not be loaded ahead: {exc}", file=sys.stderr, flush=True)
            return
        print(f"{READY} ({time.perf_counter() - began:.1f} s)", file=sys.stderr, flush=True)

    thread = threading.Thread(target=load, name="cnnlab-warm-up", daemon=True)
    started_preload()  # app.py's own preload, after a first page, has nothing left to start
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> None:
    options = sys.argv[1:] if argv is None else argv
    warm_up()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *options]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
