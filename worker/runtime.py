"""Per-process state of a worker: settings, Redis stores and the lazily loaded pipeline.

Nothing here runs at import. The model loads on the first task that needs it — after any
fork, in the process that will use it (CUDA does not survive a fork) — and stays loaded for
the life of the process.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from functools import cache
from typing import TYPE_CHECKING

import redis

from worker.settings import WorkerSettings, get_settings
from worker.storage import JobStore, Storage

if TYPE_CHECKING:
    from models.pipeline import DiffAEPipeline

log = logging.getLogger(__name__)


class Runtime:
    """What every task of this process shares."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.pid = os.getpid()
        client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=30)
        self.storage = Storage(client, settings.ttl_seconds)
        self.jobs = JobStore(client, settings.ttl_seconds)
        #: Who runs this process's jobs (`RunningJob.worker`): the heartbeat's member, set at
        #: worker start (`worker.tasks`); unique per process start, so that a restarted worker of
        #: the same name does not pass for the one that died.
        self.worker_id = f"{socket.gethostname()}/{self.pid}"
        self._pipeline: DiffAEPipeline | None = None
        self._lock = threading.Lock()
        self.engine = "eager"  # what serves: "eager" until `warm` has chosen an engine

    @property
    def loaded(self) -> bool:
        return self._pipeline is not None

    def warm(self) -> None:
        """Load the model and choose its engine (`ENGINE`), meant for a background thread at
        worker start: tasks arriving meanwhile load the model themselves (the lock makes that
        once) and run eager until the engine is ready. Never raises."""
        try:
            pipe = self.pipeline()
            candidates = engine_candidates(self.settings.engine, pipe)
            if not candidates:
                log.info("engine eager (ENGINE=%s, %s on %s)", self.settings.engine, pipe.dtype, pipe.device)
                return
            from models.engine import choose_engine

            start = time.perf_counter()
            margin = 0.9 if self.settings.engine == "auto" else float("inf")
            choice = choose_engine(pipe.autoencoder, pipe.eager_step, self.settings.model_cache_dir,
                                   candidates, margin=margin)
            pipe.use_engine(choice.engine)
            self.engine = choice.name
            log.info("%s, chosen in %.1f s", choice.summary(), time.perf_counter() - start)
        except Exception:  # the eager path keeps serving; say why the engine did not come
            log.exception("warming the model failed; serving eager")

    def pipeline(self) -> DiffAEPipeline:
        """The model, loaded on first use from `MODEL_DIR` onto `DEVICE`."""
        if os.getpid() != self.pid:
            raise RuntimeError("the worker runtime was created before a fork; create it in the child")
        with self._lock:
            if self._pipeline is None:
                self._pipeline = self._load()
            return self._pipeline

    def _load(self) -> DiffAEPipeline:
        import torch

        from models.pipeline import DiffAEPipeline

        s = self.settings
        if s.torch_threads:
            torch.set_num_threads(s.torch_threads)
        device = ("cuda" if torch.cuda.is_available() else "cpu") if s.device == "auto" else s.device
        dtype = None if s.dtype == "auto" else getattr(torch, s.dtype)
        start = time.perf_counter()
        pipe = DiffAEPipeline.from_pretrained(s.model_dir, device=device, dtype=dtype)
        log.info(
            "loaded %s from %s on %s (%s) in %.1f s",
            pipe.config.preset,
            s.model_dir,
            pipe.device,
            pipe.dtype,
            time.perf_counter() - start,
        )
        return pipe


@cache
def get_runtime() -> Runtime:
    """This process's runtime, created on first use."""
    return Runtime(get_settings())


def engine_candidates(engine: str, pipe: DiffAEPipeline) -> list[tuple[str, str]]:
    """The (engine, precision) pairs to try for setting `engine` on this pipeline: none on CUDA
    or for "eager"; bf16 only where the pipeline's own dtype is bf16 (DTYPE=float32 keeps the
    served output exact)."""
    import torch

    if engine == "eager" or pipe.device.type != "cpu":
        return []
    precisions = ["float32"] + (["bfloat16"] if pipe.dtype == torch.bfloat16 else [])
    pairs = [("onnxruntime", "float32")] + [("openvino", p) for p in precisions]
    return pairs if engine == "auto" else [pair for pair in pairs if pair[0] == engine][-1:]
