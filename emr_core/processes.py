"""Process pools that are safe to start from a threaded or networked process (a Dagster run, a celery worker)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def process_pool(
    workers: int,
    preload: Sequence[str] = (),
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """A pool whose workers are forked from a clean forkserver, never from this process.

    A fork copies what this process holds at that moment: a celery worker's broker channel waiting in BRPOP
    (kombu's after-fork hook then blocks the child on Redis), a Dagster run's threads and their locks. The
    forkserver is a single-threaded process started once per parent; `preload` names modules it imports
    first, so each worker starts with them loaded instead of importing them again.
    """
    context = multiprocessing.get_context("forkserver")
    # Never an empty preload: only with one does the server get this process's sys.path (and so find the
    # modules of the functions it is asked to run). Takes effect before the server's first start only.
    context.set_forkserver_preload([__name__, *preload])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer, initargs=initargs)
