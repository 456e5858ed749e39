"""``python -m loadtest``: the same as ``elysium loadtest``."""

from loadtest.cli import main

raise SystemExit(main())
