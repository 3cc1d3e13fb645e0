"""No side effects at import: the web tier never imports torch, the worker loads no model and
reads no environment until it works, and the Celery settings for long jobs are in place; the
worker never imports the web tier."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

from tests.service.stack import REPO


def run(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_no_side_effects_at_import() -> None:
    """One interpreter (imports are the slow part): the web tier first, then the worker."""
    out = run(
        """
        import sys
        from backend.app import create_app
        from backend.settings import Settings
        app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"))
        import backend.upload, backend.studio, backend.photos, backend.faces, backend.events
        import worker.contracts, worker.storage, worker.celery_app
        print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))

        import worker.tasks
        from worker.runtime import get_runtime
        from worker.settings import get_settings
        print(get_runtime.cache_info().currsize, get_settings.cache_info().currsize)
        from worker.celery_app import app
        c = app.conf  # reading the configuration is what reads the environment
        print(c.task_acks_late, c.task_reject_on_worker_lost, c.worker_prefetch_multiplier,
              c.task_soft_time_limit, c.task_time_limit, c.broker_transport_options["visibility_timeout"],
              c.broker_url, c.result_backend, c.task_ignore_result,
              sorted(t for t in app.tasks if t.startswith("diffae.")))
        print(get_runtime.cache_info().currsize)
    """,
        MODEL_DIR="/nonexistent",
        REDIS_URL="redis://127.0.0.1:9/3",
        VISIBILITY_TIMEOUT_SECONDS="5000",
        SOFT_TIME_LIMIT_SECONDS="100",
        TIME_LIMIT_SECONDS="200",
    )
    assert out.splitlines() == [
        "[]",  # the backend never imports torch
        "0 0",  # importing the worker loads no model and reads no settings
        "True True 1 100 200 5000 redis://127.0.0.1:9/3 None True "  # no result backend: results are jobs
        "['diffae.encode', 'diffae.interpolate', 'diffae.manipulate', 'diffae.sample', 'diffae.teach']",
        "0",  # configuring Celery loads no model either
    ]


def test_the_worker_never_imports_the_web_tier() -> None:
    """Every import statement in worker/, also those inside functions."""
    found = []
    for path in sorted((REPO / "worker").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names if n == "backend" or n.startswith("backend.")]
    assert found == []
