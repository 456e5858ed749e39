"""Wait for a condition by polling it, never by sleeping a guessed time."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")


def wait_until(predicate: Callable[[], T | None], timeout_s: float = 10.0, interval_s: float = 0.01,
               what: str = "the condition") -> T:
    """Poll ``predicate`` until it returns something truthy, and return that; fail after ``timeout_s``.

    A predicate that returns ``X | None`` gives back an ``X``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout_s} s")
        time.sleep(interval_s)


@overload
async def until(predicate: Callable[[], Awaitable[T | None]], timeout_s: float = ..., interval_s: float = ...,
                what: str = ...) -> T: ...


@overload
async def until(predicate: Callable[[], T | None], timeout_s: float = ..., interval_s: float = ...,
                what: str = ...) -> T: ...


async def until(predicate: Callable[[], T | None | Awaitable[T | None]], timeout_s: float = 10.0,
                interval_s: float = 0.01, what: str = "the condition") -> T:
    """The same on an event loop; ``predicate`` may be a coroutine function.

    Returns what the predicate returned (awaited when it was a coroutine function), so a caller
    gets its found value typed: ``row = await until(lambda: find(...))``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        value: T | None = await result if inspect.isawaitable(result) else result
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout_s} s")
        await asyncio.sleep(interval_s)
