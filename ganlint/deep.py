"""Room for deeply nested code: the lint work runs on a thread with a large stack.

LibCST's trees, its code generation and ganlint's interpreter recurse once per level of nesting,
and generated code nests deeply: 500 terms of `+`, a chain of 1,000 `elif`, a condition of
1,000 `and` terms (LibCST nests each operator; CPython compiles all of these). Python's default
recursion limit (1,000 frames) and the main thread's 8 MiB stack are far too small for that.
:func:`call` runs a function on a thread whose stack is :data:`STACK_BYTES` with the recursion
limit raised to :data:`RECURSION_LIMIT`. Measured on CPython 3.11: LibCST's native parser takes
about 1 KiB of stack per level of nesting (a chain of 150,000 `and` terms needs more than
128 MiB; 400,000 fit in 512 MiB), and ganlint's own recursion on such a chain reaches the
recursion limit (a `RecursionError`, reported as a diagnostic) well before the end of the stack.
Chains longer than LibCST could take are refused before parsing (`parsing.MAX_BOOLEAN_CHAIN`).
The stack is reserved address space; only the pages a deep file actually uses take memory.

CPython's own parser and compiler must still judge code by the limits a user's interpreter has
(3.11 derives them from the recursion limit): :func:`python_limits` gives them that headroom.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

STACK_BYTES = 512 * 1024 * 1024
RECURSION_LIMIT = 100_000
NORMAL_RECURSION_LIMIT = sys.getrecursionlimit()

_T = TypeVar("_T")
_lock = threading.Lock()
_local = threading.local()


def call(function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """``function(*args, **kwargs)`` on a thread with a large stack; its exception is re-raised here."""
    if getattr(_local, "deep", False):
        return function(*args, **kwargs)  # already on such a thread
    outcome: list[Any] = []

    def run() -> None:
        _local.deep = True
        try:
            outcome.append((True, function(*args, **kwargs)))
        except BaseException as error:  # re-raised in the calling thread
            outcome.append((False, error))

    with _lock:
        previous_limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(previous_limit, RECURSION_LIMIT))
        try:
            previous_stack = threading.stack_size()
            threading.stack_size(STACK_BYTES)
            try:
                worker = threading.Thread(target=run, name="ganlint-deep", daemon=True)
                worker.start()
            finally:
                threading.stack_size(previous_stack)
            while worker.is_alive():
                worker.join(0.25)  # a short wait keeps Ctrl-C responsive in the calling thread
        finally:
            sys.setrecursionlimit(previous_limit)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


@contextlib.contextmanager
def python_limits() -> Iterator[None]:
    """The recursion headroom a plain `python script.py` has, for CPython's parser and compiler.

    CPython 3.11 limits their nesting by the recursion limit less the frames already in use, so
    the limit is set to the normal one plus the frames of this thread: code is accepted exactly
    when the user's interpreter would accept it.
    """
    previous = sys.getrecursionlimit()
    wanted = NORMAL_RECURSION_LIMIT + _depth()
    if previous == wanted:
        yield
        return
    sys.setrecursionlimit(wanted)
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def _depth() -> int:
    frame: types.FrameType | None = sys._getframe(1)
    depth = 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth
