"""`python -m models.training autoencoder|latent|directions|export ...`: see `models.training.cli`."""

from models.training.cli import main

raise SystemExit(main())
