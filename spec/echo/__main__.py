"""``python -m spec.echo``: the same as the ``echofuzz`` command (see ``spec.echo.cli``)."""

from __future__ import annotations

import sys

from spec.echo.cli import main

if __name__ == "__main__":
    sys.exit(main())
