"""`python -m models.evaluation`: see `models.evaluation.cli`."""

from models.evaluation.cli import main

raise SystemExit(main())
