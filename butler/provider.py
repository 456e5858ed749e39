"""The model provider: chat completions over the official ``openai`` SDK, streamed, with tools.

:meth:`Provider.stream` sends one request and yields the reply's text as it arrives
(:class:`TextDelta`), then one :class:`Completion` holding the whole text, the tool calls
(their argument fragments put back together by index) and the token usage of the final chunk.

Retries are ours, not the SDK's (the client is built with ``max_retries=0``): a 429, a 5xx, a
408, a dropped connection or a timeout is retried up to ``max_retries`` times, waiting what the
answer's ``Retry-After`` (or ``retry-after-ms``) says, else an exponential backoff with jitter.
Doing it here lets one place count every attempt for metrics, refuse a ``Retry-After`` longer
than ``max_retry_after_s`` (the player is waiting), and never retry once text has reached the
player (a retry would say it twice). Then it raises :class:`ProviderError`.

Two clocks bound a request: ``timeout_s`` for connecting and for each read (the SDK's
timeout), and ``stream_timeout_s`` for the whole reply, first byte to last chunk.

Nothing here logs a message's text, a tool's arguments or the API key; the provider's own
error messages are not passed on either (they can quote part of the key).

``observe(kind, seconds)``, when given, is called once per attempt with how long it took and
how it ended: ``ok``, ``rate-limited``, ``server-error``, ``timeout``, ``connection-error``,
``refused`` (a 4xx other than 408 and 429: a bad key, a bad request) or ``bad-response`` (the
stream carried an error or could not be read).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import math
import random
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolUnionParam

log = logging.getLogger(__name__)

UNAVAILABLE = "provider-unavailable"
RATE_LIMITED = "provider-rate-limited"
FAILED = "provider-error"

Observe = Callable[[str, float], None]


class ProviderError(Exception):
    """The model could not answer; ``code`` is one of the three above, safe to show the player."""

    def __init__(self, code: str, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens)

    def body(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


ZERO = Usage(0, 0)


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model asked for; ``arguments`` is its JSON text, unchecked."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole reply: the last thing :meth:`Provider.stream` yields."""

    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    finish_reason: str | None


@dataclass(frozen=True, slots=True)
class _Failure:
    kind: str  # for observe
    code: str
    detail: str
    retryable: bool
    retry_after_s: float | None = None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date); None if absent."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
        return value if math.isfinite(value) and value >= 0 else None
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(raw)
    if parsed is None:
        return None
    return max(0.0, float(email.utils.mktime_tz(parsed) - time.time()))


def _classify(exc: BaseException) -> _Failure:
    if isinstance(exc, (TimeoutError, openai.APITimeoutError)):
        return _Failure("timeout", UNAVAILABLE, "The model provider did not answer in time.", True)
    if isinstance(exc, openai.APIConnectionError):
        return _Failure("connection-error", UNAVAILABLE, "The model provider could not be reached.", True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status == 429:
            if exc.code == "insufficient_quota":
                return _Failure("refused", FAILED, "The model provider's quota is used up.", False)
            return _Failure("rate-limited", RATE_LIMITED, "The model provider is rate limiting us.", True,
                            retry_after(exc.response.headers))
        if status == 408:
            return _Failure("timeout", UNAVAILABLE, "The model provider timed out.", True,
                            retry_after(exc.response.headers))
        if status >= 500:
            return _Failure("server-error", UNAVAILABLE, f"The model provider failed (HTTP {status}).", True,
                            retry_after(exc.response.headers))
        return _Failure("refused", FAILED, f"The model provider refused the request (HTTP {status}).", False)
    return _Failure("bad-response", FAILED, "The model provider's answer could not be read.", False)


@dataclass
class _CallParts:
    id: str = ""
    name: str = ""
    arguments: str = ""


def estimate_tokens(text: str) -> int:
    """A rough count (four characters a token) for an endpoint that reports no usage."""
    return math.ceil(len(text) / 4)


class Provider:
    """Chat completions against OpenAI or any endpoint speaking its protocol (``base_url``)."""

    def __init__(self, *, api_key: str, base_url: str | None, model: str, timeout_s: float, max_retries: int,
                 stream_timeout_s: float | None = None, backoff_s: float = 0.5, max_backoff_s: float = 8.0,
                 max_retry_after_s: float = 30.0, observe: Observe | None = None,
                 rng: random.Random | None = None) -> None:
        if timeout_s <= 0 or max_retries < 0:
            raise ValueError("timeout_s must be positive and max_retries not negative")
        self.model = model
        self.max_retries = max_retries
        self.stream_timeout_s = stream_timeout_s if stream_timeout_s is not None else 4 * timeout_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_retry_after_s = max_retry_after_s
        self._observe = observe
        self._rng = rng or random.Random()
        self._client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0)

    def __repr__(self) -> str:  # never the key
        return f"Provider(model={self.model!r})"

    async def close(self) -> None:
        await self._client.close()

    def backoff(self, attempt: int) -> float:
        """The wait before retry ``attempt`` (0-based) when the answer named none: half fixed, half random."""
        ceiling = min(self.max_backoff_s, self.backoff_s * 2 ** min(attempt, 30))
        return float(ceiling / 2 + self._rng.uniform(0, ceiling / 2))

    async def stream(self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] = (), *,
                     tool_choice: str | None = None) -> AsyncGenerator[TextDelta | Completion, None]:
        """Yield the reply's text deltas, then its :class:`Completion`; raise :class:`ProviderError`."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            started = loop.time()
            spoke = False
            try:
                async with contextlib.aclosing(self._attempt(messages, tools, tool_choice,
                                                             started + self.stream_timeout_s)) as items:
                    async for item in items:
                        if isinstance(item, TextDelta):
                            spoke = True
                        yield item
            except (TimeoutError, openai.APIError) as exc:
                failure = _classify(exc)
            else:
                self._report("ok", loop.time() - started)
                return
            self._report(failure.kind, loop.time() - started)
            wait = failure.retry_after_s
            if wait is not None and wait > self.max_retry_after_s:
                raise ProviderError(failure.code, failure.detail, wait)
            if spoke or not failure.retryable or attempt >= self.max_retries:
                raise ProviderError(failure.code, failure.detail, wait)
            if wait is None:
                wait = self.backoff(attempt)
            attempt += 1
            log.warning("model request failed, retrying", extra={"kind": failure.kind, "attempt": attempt,
                                                                 "wait_s": round(wait, 3)})
            await asyncio.sleep(wait)

    def _report(self, kind: str, seconds: float) -> None:
        if self._observe is not None:
            self._observe(kind, seconds)

    async def _attempt(self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]],
                       tool_choice: str | None, deadline: float) -> AsyncGenerator[TextDelta | Completion, None]:
        async with asyncio.timeout_at(deadline):
            stream = await self._client.chat.completions.create(
                model=self.model,
                messages=cast(list[ChatCompletionMessageParam], list(messages)),
                tools=cast(list[ChatCompletionToolUnionParam], list(tools)) if tools else openai.omit,
                tool_choice=cast(Any, tool_choice) if tools and tool_choice else openai.omit,
                stream=True,
                stream_options={"include_usage": True},
            )
        text: list[str] = []
        calls: dict[int, _CallParts] = {}
        usage: Usage | None = None
        finish: str | None = None
        chunks = aiter(stream)
        try:
            while True:
                async with asyncio.timeout_at(deadline):
                    try:
                        chunk = await anext(chunks)
                    except StopAsyncIteration:
                        break
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    if choice.finish_reason is not None:
                        finish = choice.finish_reason
                    delta = choice.delta
                    for part in delta.tool_calls or ():
                        into = calls.setdefault(part.index, _CallParts())
                        into.id = into.id or (part.id or "")
                        if part.function is not None:
                            into.name += part.function.name or ""
                            into.arguments += part.function.arguments or ""
                    if delta.content:
                        text.append(delta.content)
                        yield TextDelta(delta.content)
        finally:
            await stream.close()
        whole = "".join(text)
        tool_calls = tuple(ToolCall(c.id or f"call_{i}", c.name, c.arguments) for i, c in sorted(calls.items()))
        if usage is None:
            sent = json.dumps(list(messages), default=str) + json.dumps(list(tools), default=str)
            usage = Usage(estimate_tokens(sent),
                          estimate_tokens(whole + "".join(c.name + c.arguments for c in tool_calls)))
        yield Completion(whole, tool_calls, usage, finish)
