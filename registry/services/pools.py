"""Process pools whose children die with their parent.

A pool's children wait on its call queue; when the parent is killed
(``kill -9``, the out-of-memory killer) nothing ever closes that queue, so
they would wait forever, adopted by init, with the registry's database open.
Each child therefore asks Linux to kill it when its parent dies
(``PR_SET_PDEATHSIG``), then checks that its parent is still the process
that started it, in case that one died first.  The signal follows the
parent *thread* that started the child: start pools from a thread that
lives as long as the pool (imports and ``irontrace worker`` use their main
thread).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def child_pool(workers: int, context: BaseContext | None = None, initializer: Callable[..., None] | None = None,
               initargs: tuple[Any, ...] = ()) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` whose children die with this process."""
    return ProcessPoolExecutor(workers, context, initializer=_die_with_parent,
                               initargs=(os.getpid(), initializer, initargs))


def _die_with_parent(parent: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
    if initializer is not None:
        initializer(*initargs)
