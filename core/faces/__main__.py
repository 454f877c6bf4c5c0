"""``python -m core.faces IMAGE`` (see ``core.faces.cli``)."""

from core.faces.cli import main

main()
