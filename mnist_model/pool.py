"""Classification in worker processes, so that the server's threads only wait for answers.

CPython runs one thread's Python code at a time (the GIL). In the app, Gradio's event loop needs
it for every request, and preprocessing, a few hundred numpy calls on small arrays, holds it for
most of its run, so on threads the two take turns on one lock however many cores there are. A
pool of processes, each with its own interpreter and its own copy of the model, classifies beside
the server instead, and the app answers more drawings per second (`python -m
benchmarks.app_latency` measures how many; README.md has the results).

Workers come from a fork server that has imported the app once (the main module, which each worker
would otherwise import again, torch, gradio), so they start in a fraction of a second; each costs
the memory of its own interpreter and model beside the server's. A worker that dies (a crashing
decoder, the out-of-memory killer) takes only the pool down: the requests it held are retried once
on a new pool, and fail with `WorkerError` if that one dies too. Workers ignore Ctrl+C (the server
shuts them down), exit when the server is gone, however it ended, and yield a contended core to the
server (`WORKER_NICENESS`). `ClassifierPool` is a `mnist_model.predict.Predictor`, as `Classifier`
is: it runs `predict` and `read_number` alike.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import torch
from typing import TypeVar

from .memory import limit_malloc_arenas
from .predict import Classifier, NumberReading, Prediction
from .preprocess import ImageSource

# Gradio's one event loop feeds a worker far fewer drawings than it can classify: more would idle.
MAX_DEFAULT_WORKERS = 4
# Workers run at a lower priority than the server. Under load the server's event loop, one thread
# at a time, is the app's bottleneck; when it and a worker want the same core, the loop should win.
# A worker still gets every core the loop leaves idle.
WORKER_NICENESS = 10


T = TypeVar("T")


class WorkerError(RuntimeError):
    """Classifying an input stopped the worker process that ran it, twice."""


def default_workers() -> int:
    """One worker per core this process may use, at most `MAX_DEFAULT_WORKERS`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


class ClassifierPool:
    """`Classifier.predict` and `read_number` run in `workers` processes; thread-safe, for any
    number of callers.
    `close()` stops the workers."""

    def __init__(self, model: torch.nn.Module, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"a pool needs at least one worker, not {workers}")
        methods = multiprocessing.get_all_start_methods()
        self._context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:
            self._context.set_forkserver_preload(["__main__", __name__])
        self._model, self._workers = model, workers
        self._lock = threading.Lock()
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self._workers, mp_context=self._context, initializer=_start_worker,
                                   initargs=(self._model,))

    def warm_up(self) -> None:
        """Start every worker now rather than on the first requests."""
        for future in [self._pool.submit(time.sleep, 0.05) for _ in range(self._workers)]:
            future.result()

    def predict(self, source: ImageSource | None) -> Prediction:
        """As `Classifier.predict`, in a worker; raises `WorkerError` if workers die on it twice."""
        return self._run(_predict, source)

    def read_number(self, source: ImageSource | None) -> NumberReading:
        """As `Classifier.read_number`, in a worker; raises `WorkerError` as `predict` does."""
        return self._run(_read_number, source)

    def _run(self, task: Callable[[ImageSource | None], T], source: ImageSource | None) -> T:
        for _ in range(2):
            pool = self._pool
            try:
                return pool.submit(task, source).result()
            except BrokenProcessPool:
                self._replace(pool)
        raise WorkerError(
            "Classifying this input stopped the worker process that ran it, twice; new workers have "
            "been started."
        )

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:  # the first caller to see it broken replaces it
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()

    def close(self) -> None:
        """Stop the workers (after the requests they hold)."""
        self._pool.shutdown()


_classifier: Classifier | None = None  # each worker's own


def _start_worker(model: torch.nn.Module) -> None:
    global _classifier
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole process group
    if hasattr(os, "nice"):  # not on Windows
        os.nice(WORKER_NICENESS)  # the server's event loop first (see WORKER_NICENESS)
    torch.set_num_threads(1)  # one process per core already
    limit_malloc_arenas()  # workers decode the images: the server's reasons hold here too
    _classifier = Classifier(model)
    server = multiprocessing.parent_process()  # the server, even when the fork server forked us
    if server is not None:
        threading.Thread(target=_exit_after, args=(server,), daemon=True).start()


def _exit_after(server: multiprocessing.process.BaseProcess) -> None:
    """End this worker when the server is gone. A killed server runs no shutdown code, and
    workers would wait for work forever, keeping the fork server alive with them."""
    server.join()
    os._exit(0)


def _predict(source: ImageSource | None) -> Prediction:
    assert _classifier is not None, "called outside a worker"
    return _classifier.predict(source)


def _read_number(source: ImageSource | None) -> NumberReading:
    assert _classifier is not None, "called outside a worker"
    return _classifier.read_number(source)
