"""DiffAE Studio web tier: HTTP, validation, face alignment. Never imports torch."""
