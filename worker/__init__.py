"""The Celery worker: tasks over the DiffAE pipeline, with Redis storage (DESIGN §1, §3)."""
