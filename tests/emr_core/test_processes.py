"""Worker pools start from a clean forkserver: nothing the parent holds at that moment reaches the workers."""

from __future__ import annotations

import multiprocessing
import os
import socket
import stat
from concurrent.futures import ProcessPoolExecutor

import pytest

from emr_core.processes import process_pool

BROKER_FD = 987  # a descriptor number no worker opens by itself


def _kind_of(pool: ProcessPoolExecutor, fd: int) -> int:
    with pool:
        return pool.submit(os.fstat, fd).result().st_mode  # os.fstat pickles by name: no test module to import


def test_workers_do_not_inherit_the_parents_open_connection() -> None:
    """Stands in for a celery worker's broker connection open while ingest starts its pool."""
    with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname()) as conn:
        os.dup2(conn.fileno(), BROKER_FD)
        try:
            forked = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            assert stat.S_ISSOCK(_kind_of(forked, BROKER_FD))  # the hazard is real: a fork shares the socket
            with pytest.raises(OSError):
                _kind_of(process_pool(1), BROKER_FD)
        finally:
            os.close(BROKER_FD)
