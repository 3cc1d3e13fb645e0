"""The Celery worker: tasks over the DiffAE pipeline, with Redis storage (docs/service.md)."""
