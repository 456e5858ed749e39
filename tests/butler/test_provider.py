"""The provider against the chat-completions stand-in, through the real ``openai`` SDK."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from butler.provider import Completion, Provider, ProviderError, TextDelta, Usage, retry_after
from tests.butler.standin import MODEL, Reply, StandIn, standin  # noqa: F401

TOOLS = [{"type": "function", "function": {"name": "get_wallet", "description": "The player's balances.",
                                           "parameters": {"type": "object", "properties": {},
                                                          "additionalProperties": False}}}]
MESSAGES = [{"role": "system", "content": "You are a test."}, {"role": "user", "content": "hello there"}]


@pytest.fixture
async def make(standin: StandIn) -> AsyncIterator[Any]:
    made: list[Provider] = []
    seen: list[tuple[str, float]] = []

    def build(**overrides: Any) -> Provider:
        options: dict[str, Any] = dict(api_key=standin.api_key, base_url=standin.url, model=MODEL, timeout_s=5.0,
                                       max_retries=2, backoff_s=0.05, max_backoff_s=0.2,
                                       observe=lambda kind, s: seen.append((kind, s)), rng=random.Random(7))
        options.update(overrides)
        provider = Provider(**options)
        made.append(provider)
        return provider

    build.seen = seen  # type: ignore[attr-defined]
    yield build
    for p in made:
        await p.close()


async def collect(provider: Provider, tools: list[dict[str, Any]] | None = None,
                  tool_choice: str | None = None) -> tuple[list[str], Completion]:
    deltas: list[str] = []
    done: Completion | None = None
    async for item in provider.stream(MESSAGES, tools or [], tool_choice=tool_choice):
        if isinstance(item, TextDelta):
            assert done is None
            deltas.append(item.text)
        else:
            done = item
    assert done is not None
    return deltas, done


async def test_text_streams_in_deltas_with_the_final_usage(standin: StandIn, make: Any) -> None:
    standin.script(Reply.text("You hold 120 soft coins.", usage=(31, 9), fragment=5))
    deltas, done = await collect(make())
    assert len(deltas) == 5 and "".join(deltas) == "You hold 120 soft coins."
    assert done.text == "You hold 120 soft coins." and done.tool_calls == ()
    assert done.usage == Usage(31, 9) and done.finish_reason == "stop"
    (request,) = standin.requests
    assert request.body["stream"] is True and request.body["stream_options"] == {"include_usage": True}
    assert request.body["model"] == MODEL and request.messages == MESSAGES
    assert "tools" not in request.body and request.authorization == f"Bearer {standin.api_key}"
    assert make.seen[0][0] == "ok" and make.seen[0][1] > 0


async def test_tool_call_fragments_are_put_back_together_by_index(standin: StandIn, make: Any) -> None:
    standin.script(Reply.tools(("get_wallet", {}), ("search_market", {"query": "ember blade", "max_price": 50}),
                               ids=("call_a", "call_b"), content="Checking.", fragment=3))
    deltas, done = await collect(make(), TOOLS, "auto")
    assert "".join(deltas) == "Checking." and done.finish_reason == "tool_calls"
    assert [(c.id, c.name) for c in done.tool_calls] == [("call_a", "get_wallet"), ("call_b", "search_market")]
    assert json.loads(done.tool_calls[1].arguments) == {"query": "ember blade", "max_price": 50}
    assert json.loads(done.tool_calls[0].arguments) == {}
    body = standin.requests[0].body
    assert body["tools"] == TOOLS and body["tool_choice"] == "auto"


async def test_a_429_waits_what_retry_after_says_then_succeeds(standin: StandIn, make: Any) -> None:
    standin.script(Reply.error(429, retry_after=1), Reply.text("Back again."))
    deltas, done = await collect(make())
    assert done.text == "Back again."
    first, second = standin.requests
    # The backoff alone would wait at most 0.05 s: only Retry-After explains a second's gap.
    assert second.at - first.at >= 0.95
    assert [k for k, _ in make.seen] == ["rate-limited", "ok"]


async def test_a_retry_after_longer_than_the_player_should_wait_is_not_waited(standin: StandIn,
                                                                             make: Any) -> None:
    standin.script(Reply.error(429, retry_after=120), Reply.text("never"))
    with pytest.raises(ProviderError) as caught:
        await collect(make(max_retry_after_s=10))
    assert caught.value.code == "provider-rate-limited" and caught.value.retry_after_s == 120
    assert len(standin.requests) == 1


async def test_rate_limits_that_persist_end_in_provider_rate_limited(standin: StandIn, make: Any) -> None:
    standin.script(*[Reply.error(429)] * 3)
    with pytest.raises(ProviderError) as caught:
        await collect(make(max_retries=2))
    assert caught.value.code == "provider-rate-limited" and len(standin.requests) == 3


async def test_5xx_are_retried_then_provider_unavailable(standin: StandIn, make: Any) -> None:
    standin.script(Reply.error(500), Reply.error(503), Reply.text("ok now"))
    _, done = await collect(make(max_retries=2))
    assert done.text == "ok now" and len(standin.requests) == 3
    standin.requests.clear()
    standin.script(*[Reply.error(502)] * 3, Reply.text("too late"))
    with pytest.raises(ProviderError) as caught:
        await collect(make(max_retries=2))
    assert caught.value.code == "provider-unavailable" and len(standin.requests) == 3
    assert "502" in caught.value.detail


async def test_a_bad_key_is_not_retried(standin: StandIn, make: Any) -> None:
    standin.script(Reply.text("unreachable"))
    with pytest.raises(ProviderError) as caught:
        await collect(make(api_key="sk-wrong-key"))
    assert caught.value.code == "provider-error" and len(standin.requests) == 1
    assert "sk-" not in caught.value.detail


async def test_insufficient_quota_is_not_retried(standin: StandIn, make: Any) -> None:
    standin.script(Reply.error(429, code="insufficient_quota"), Reply.text("unreachable"))
    with pytest.raises(ProviderError) as caught:
        await collect(make())
    assert caught.value.code == "provider-error" and len(standin.requests) == 1


async def test_a_slow_answer_times_out_and_is_retried_then_gives_up(standin: StandIn, make: Any) -> None:
    standin.script(Reply.text("slow", delay_s=3), Reply.text("slow", delay_s=3))
    with pytest.raises(ProviderError) as caught:
        await collect(make(timeout_s=0.3, max_retries=1))
    assert caught.value.code == "provider-unavailable" and len(standin.requests) == 2
    assert [k for k, _ in make.seen] == ["timeout", "timeout"]


async def test_a_stream_that_stalls_after_speaking_ends_without_a_retry(standin: StandIn, make: Any) -> None:
    standin.script(Reply.text("Half a sentence and then", stall_s=6), Reply.text("a repeat"))
    provider = make(timeout_s=10.0, stream_timeout_s=1.5, max_retries=2)
    deltas: list[str] = []
    with pytest.raises(ProviderError) as caught:
        async for item in provider.stream(MESSAGES):
            assert isinstance(item, TextDelta)
            deltas.append(item.text)
    assert caught.value.code == "provider-unavailable"
    assert deltas == ["Half"]  # the first fragment reached the player; saying it twice would be worse
    assert len(standin.requests) == 1


async def test_neither_the_key_nor_the_messages_are_logged(standin: StandIn, make: Any,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    standin.script(Reply.error(500), Reply.text("fine"), Reply.error(401))
    await collect(make())
    with pytest.raises(ProviderError):
        await collect(make())
    assert any(r.name == "butler.provider" for r in caplog.records)  # the retry was logged
    logged = caplog.text + "".join(repr(r.__dict__) for r in caplog.records)
    assert standin.api_key not in logged and "hello there" not in logged
    assert standin.api_key not in repr(make())


def test_retry_after_reads_seconds_milliseconds_and_dates() -> None:
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({}) is None and retry_after({"retry-after": "soon"}) is None
    assert retry_after({"retry-after": "-3"}) is None
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


def test_backoff_grows_and_stays_under_its_ceiling() -> None:
    p = Provider(api_key="k", base_url="http://127.0.0.1:9/v1", model=MODEL, timeout_s=1, max_retries=3,
                 backoff_s=0.1, max_backoff_s=1.0, rng=random.Random(1))
    waits = [p.backoff(n) for n in range(6)]
    assert 0.05 <= waits[0] <= 0.1 and 0.1 <= waits[1] <= 0.2 and all(0.5 <= w <= 1.0 for w in waits[4:])
    with pytest.raises(ValueError):
        Provider(api_key="k", base_url=None, model=MODEL, timeout_s=0, max_retries=1)


async def test_an_error_inside_the_stream_is_a_provider_error_not_retried(standin: StandIn, make: Any) -> None:
    standin.script(Reply.text("Partial answer", broken=True), Reply.text("again"))
    with pytest.raises(ProviderError) as caught:
        await collect(make())
    assert caught.value.code == "provider-error" and len(standin.requests) == 1
    assert [k for k, _ in make.seen] == ["bad-response"]


async def test_a_provider_that_cannot_be_reached_is_retried_then_unavailable(make: Any) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(make(base_url="http://127.0.0.1:9/v1", max_retries=1))
    assert caught.value.code == "provider-unavailable"
    assert [k for k, _ in make.seen] == ["connection-error", "connection-error"]


async def test_an_endpoint_without_usage_gets_an_estimate(standin: StandIn, make: Any) -> None:
    standin.script(Reply.text("x" * 40, usage=None))
    _, done = await collect(make())
    assert done.usage.completion_tokens == 10 and done.usage.prompt_tokens > 0


async def test_the_standin_also_answers_plain_json_with_tool_calls(standin: StandIn) -> None:
    import openai

    standin.script(Reply.tool("get_wallet", {"x": 1}, call_id="call_p", usage=(3, 2)))
    client = openai.AsyncOpenAI(api_key=standin.api_key, base_url=standin.url, max_retries=0)
    try:
        answer = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    finally:
        await client.close()
    call = answer.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.id == "call_p" and call.function.name == "get_wallet"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"x": 1}  # type: ignore[union-attr]
    assert answer.usage is not None and answer.usage.prompt_tokens == 3
    assert answer.choices[0].finish_reason == "tool_calls"


async def test_a_503_with_retry_after_is_waited_too(standin: StandIn, make: Any) -> None:
    standin.script(Reply.error(503, retry_after=1), Reply.text("up again"))
    _, done = await collect(make())
    first, second = standin.requests
    assert done.text == "up again" and second.at - first.at >= 0.95


async def test_a_consumer_that_stops_early_leaves_nothing_open(standin: StandIn, make: Any) -> None:
    standin.script(Reply.text("a long answer " * 20), Reply.text("next"))
    provider = make()
    stream = provider.stream(MESSAGES)
    assert isinstance(await anext(stream), TextDelta)
    await stream.aclose()
    _, done = await collect(provider)  # the same client serves the next request
    assert done.text == "next"
