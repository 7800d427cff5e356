"""Writing a site's pages, on every core when there are many.

Pages are independent, so a large atlas's are split into chunks written by a
pool of forked processes: a fork hands each worker the page plan (the manifest
and the template environment) without copying it, where pickling a
10,000-unit manifest to a fresh interpreter would cost more than it saves.
Workers only fill templates and write files (no torch, no threads of their
own), and each page is written atomically, so the output is byte for byte the
one a single process writes. Where fork is not available (Windows, macOS'
default), or the site is small, the pages are written in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from atlas.fsio import write_text_atomic

PARALLEL_FROM = 1500  # pages: below this, starting workers costs more than it saves
CHUNK = 250  # pages per task

Plan = Sequence[tuple[str, Callable[[], str]]]

_plan: Plan = ()  # the plan forked workers read (set just before the pool starts)
_site: Path = Path()
_task: Callable[[Any], Any] | None = None  # likewise, for fork_map


def _write(plan: Plan, site_dir: Path, start: int, stop: int) -> int:
    for path, make in plan[start:stop]:
        # Pages are remade from the store by `atlas render`: no need to wait for the disk.
        write_text_atomic(site_dir.joinpath(*path.split("/")), make(), durable=False)
    return stop - start


def _write_chunk(bounds: tuple[int, int]) -> int:
    return _write(_plan, _site, *bounds)


def default_workers(pages: int) -> int:
    """One worker per usable core for a large site, else 1."""
    if pages < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


def write_pages(plan: Plan, site_dir: Path, workers: int | None = None) -> Iterator[int]:
    """Write every page of `plan` (site path, function making its HTML) under
    `site_dir`; yields how many pages each finished chunk wrote."""
    global _plan, _site
    workers = default_workers(len(plan)) if workers is None else workers
    chunks = [(start, min(start + CHUNK, len(plan))) for start in range(0, len(plan), CHUNK)]
    if workers <= 1 or len(chunks) <= 1:
        for start, stop in chunks:
            yield _write(plan, site_dir, start, stop)
        return
    _plan, _site = plan, site_dir
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield from pool.imap_unordered(_write_chunk, chunks)
    finally:
        _plan, _site = (), Path()


def _run_task(item: Any) -> Any:
    assert _task is not None
    return _task(item)


def fork_map(task: Callable[[Any], Any], items: Sequence[Any], workers: int) -> list[Any]:
    """`task(item)` for every item, in order, spread over `workers` forked processes
    where there are several (the task reaches them by the fork, only its results
    are pickled back)."""
    global _task
    if workers <= 1 or len(items) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [task(item) for item in items]
    _task = task
    try:
        with multiprocessing.get_context("fork").Pool(min(workers, len(items))) as pool:
            return pool.map(_run_task, items, chunksize=1)
    finally:
        _task = None
