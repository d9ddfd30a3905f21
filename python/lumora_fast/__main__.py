"""``python -m lumora_fast``: the ``lumora-fast`` command."""

from __future__ import annotations

import sys

from lumora_fast.cli import main

if __name__ == "__main__":
    sys.exit(main())
