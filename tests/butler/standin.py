"""A local stand-in for the chat-completions API, for the real ``openai`` SDK (``base_url``).

``POST /v1/chat/completions`` answers with the next scripted :class:`Reply`: plain JSON, or
with ``"stream": true`` server-sent events ending in ``data: [DONE]`` (text in fragments, tool
calls whose arguments arrive in fragments by index, a last chunk with the usage when
``stream_options.include_usage`` asks). A reply may instead be an error in OpenAI's error JSON
(a 429 with ``Retry-After``, a 500), be slow before it answers (``delay_s``), stall halfway
through its stream (``stall_s``) or be held there until the test sets an event (``hold``: a
stream still in flight while something else happens), break it with an error event
(``broken``) or leave the usage out (``usage=None``), which is how tests reach the provider's
retries and timeouts.
:meth:`Reply.using` decides at request time from the request itself, for a model that reacts
to what it was sent (the injection tests' obedient model).

Every request is kept (:attr:`StandIn.requests`: the body, the ``Authorization`` header and the
arrival time) so tests assert on the messages, the tools offered and the system prompt;
:attr:`StandIn.holding` counts the streams held open right now. With
nothing scripted it answers 400 ``nothing scripted`` (not retried), so a test that asked the
model more often than it meant fails loudly.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

API_KEY = "sk-standin-0123456789abcdef"
MODEL = "standin-model"


@dataclass(frozen=True)
class Call:
    name: str
    arguments: str  # JSON text as the model writes it (not necessarily valid)
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:12]}")


@dataclass(frozen=True)
class Reply:
    content: str = ""
    calls: tuple[Call, ...] = ()
    status: int = 200
    error_code: str | None = None
    retry_after: float | None = None
    delay_s: float = 0.0  # before the answer's headers
    stall_s: float = 0.0  # after the first content chunk of a stream
    hold: asyncio.Event | None = None  # a stream waits there until it is set (the test releases it)
    usage: tuple[int, int] | None = (10, 5)  # prompt, completion tokens; None: an endpoint that reports none
    broken: bool = False  # a stream that carries an error event after its first content chunk
    fragment: int = 4  # characters per text or argument fragment in a stream
    decide: Callable[[dict[str, Any]], Reply] | None = None

    @staticmethod
    def text(content: str, **options: Any) -> Reply:
        return Reply(content=content, **options)

    @staticmethod
    def tool(name: str, arguments: dict[str, Any] | str, *, content: str = "", call_id: str | None = None,
             **options: Any) -> Reply:
        """One call; a ``str`` ``arguments`` is sent as it is (for malformed JSON)."""
        return Reply.tools((name, arguments), content=content, ids=(call_id,) if call_id else (), **options)

    @staticmethod
    def tools(*calls: tuple[str, dict[str, Any] | str], content: str = "", ids: tuple[str, ...] = (),
              **options: Any) -> Reply:
        made = []
        for i, (name, arguments) in enumerate(calls):
            raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
            made.append(Call(name, raw, ids[i]) if i < len(ids) else Call(name, raw))
        return Reply(content=content, calls=tuple(made), **options)

    @staticmethod
    def error(status: int, *, retry_after: float | None = None, code: str | None = None,
              **options: Any) -> Reply:
        return Reply(status=status, retry_after=retry_after, error_code=code, **options)

    @staticmethod
    def using(decide: Callable[[dict[str, Any]], Reply]) -> Reply:
        """A reply chosen when the request arrives, from its body."""
        return Reply(decide=decide)


@dataclass
class Received:
    body: dict[str, Any]
    authorization: str | None
    at: float  # time.monotonic() on arrival

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.body["messages"]
        return messages

    @property
    def system(self) -> str:
        content: str = self.messages[0]["content"] if self.messages[0]["role"] == "system" else ""
        return content

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.body.get("tools", [])]


@dataclass
class StandIn:
    api_key: str = API_KEY
    url: str = ""  # the base URL for the SDK (``.../v1``), once started
    queue: deque[Reply] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    holding: int = 0  # streams waiting on their reply's ``hold`` right now

    def script(self, *replies: Reply) -> None:
        """Queue the model's next answers, in order."""
        self.queue.extend(replies)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.completions)
        return app

    @staticmethod
    def _error(status: int, kind: str, message: str, code: str | None = None,
               headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(status=status, content_type="application/json", headers=headers,
                            text=json.dumps({"error": {"message": message, "type": kind, "param": None,
                                                       "code": code}}))

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body: dict[str, Any] = await request.json()
        self.requests.append(Received(body, request.headers.get("Authorization"), time.monotonic()))
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "invalid_request_error", "Incorrect API key provided.", "invalid_api_key")
        if not self.queue:
            return self._error(400, "invalid_request_error", "nothing scripted")
        reply = self.queue.popleft()
        while reply.decide is not None:
            reply = reply.decide(body)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            headers = {} if reply.retry_after is None else {"Retry-After": f"{reply.retry_after:g}"}
            kind = "rate_limit_error" if reply.status == 429 else (
                "server_error" if reply.status >= 500 else "invalid_request_error")
            return self._error(reply.status, kind, f"scripted {reply.status}", reply.error_code or kind, headers)
        if body.get("stream"):
            return await self._stream(request, body, reply)
        return web.json_response(self._whole(body, reply))

    @staticmethod
    def _usage(reply: Reply) -> dict[str, int] | None:
        if reply.usage is None:
            return None
        prompt, completion = reply.usage
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _whole(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
        if reply.calls:
            message["tool_calls"] = [{"id": c.id, "type": "function",
                                      "function": {"name": c.name, "arguments": c.arguments}} for c in reply.calls]
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", MODEL),
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": "tool_calls" if reply.calls else "stop"}],
                "usage": self._usage(reply)}

    def _chunks(self, body: dict[str, Any], reply: Reply) -> AsyncIterator[dict[str, Any] | None]:
        """The stream's chunks; ``None`` marks where a stalling (or held) reply stalls."""
        base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": body.get("model", MODEL)}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

        def pieces(text: str) -> list[str]:
            step = max(1, reply.fragment)
            return [text[i:i + step] for i in range(0, len(text), step)] or [""]

        pauses = bool(reply.stall_s) or reply.hold is not None

        async def gen() -> AsyncIterator[dict[str, Any] | None]:
            yield chunk({"role": "assistant", "content": ""})
            stalled = False
            for piece in pieces(reply.content) if reply.content else []:
                yield chunk({"content": piece})
                if reply.broken:
                    yield {"error": {"message": "scripted stream failure", "type": "server_error",
                                     "param": None, "code": None}}
                    return
                if pauses and not stalled:
                    stalled = True
                    yield None
            for index, call in enumerate(reply.calls):
                yield chunk({"tool_calls": [{"index": index, "id": call.id, "type": "function",
                                             "function": {"name": call.name, "arguments": ""}}]})
                for piece in pieces(call.arguments):
                    yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                if pauses and not stalled:
                    stalled = True
                    yield None
            yield chunk({}, "tool_calls" if reply.calls else "stop")
            if (body.get("stream_options") or {}).get("include_usage") and reply.usage is not None:
                yield {**base, "choices": [], "usage": self._usage(reply)}

        return gen()

    async def _stream(self, request: web.Request, body: dict[str, Any], reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        async for item in self._chunks(body, reply):
            if item is None:
                if reply.hold is not None:
                    self.holding += 1
                    try:
                        await reply.hold.wait()
                    finally:
                        self.holding -= 1
                await asyncio.sleep(reply.stall_s)
                continue
            await response.write(f"data: {json.dumps(item)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    """A started stand-in; ``standin.url`` is the SDK's ``base_url`` and ``standin.api_key`` its key."""
    fake = StandIn()
    server = TestServer(fake.app())
    await server.start_server()
    fake.url = str(server.make_url("/v1"))
    yield fake
    await server.close()
