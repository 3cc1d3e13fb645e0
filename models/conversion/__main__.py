"""`python -m models.conversion`: see `models.conversion.cli`."""

from models.conversion.cli import main

raise SystemExit(main())
