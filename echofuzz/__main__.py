"""``python -m echofuzz``: the same as the ``echofuzz`` command (see ``echofuzz.frontends.cli``)."""

from __future__ import annotations

import sys

from echofuzz.frontends.cli import main

if __name__ == "__main__":
    sys.exit(main())
