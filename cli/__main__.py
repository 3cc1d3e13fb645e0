"""``python -m cli``: see `cli.commands` and docs/cli.md."""

import sys

from cli.commands import main

sys.exit(main())
