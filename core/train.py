"""``python -m core.train``: the training command line, under the name the README documents.

The command itself lives in ``core.training.cli``; this module only runs it.
"""

import sys

from core.training.cli import main

if __name__ == "__main__":
    sys.exit(main())
