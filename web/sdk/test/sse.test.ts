import { afterEach, describe, expect, it, vi } from "vitest";
import { Api, ApiError, parseSSE, streamSSE, type SSEEvent } from "../src";

function responseOf(chunks: (string | Uint8Array)[], init: ResponseInit = {}): Response {
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(typeof c === "string" ? enc.encode(c) : c);
      controller.close();
    },
  });
  return new Response(body, { headers: { "Content-Type": "text/event-stream" }, ...init });
}

async function collect(it: AsyncIterable<SSEEvent>): Promise<SSEEvent[]> {
  const out: SSEEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

/** Every way of cutting `text` into two chunks must parse the same. */
async function allSplits(text: string): Promise<SSEEvent[]> {
  const whole = await collect(parseSSE(responseOf([text])));
  for (let i = 1; i < text.length; i++) {
    const parts = await collect(parseSSE(responseOf([text.slice(0, i), text.slice(i)])));
    expect(parts, `split at ${i}`).toEqual(whole);
  }
  const perChar = await collect(parseSSE(responseOf(text.split(""))));
  expect(perChar).toEqual(whole);
  return whole;
}

describe("parseSSE", () => {
  it("reads events with types, ids and multi-line data", async () => {
    const evs = await allSplits("event: token\ndata: hel\ndata: lo\nid: 7\n\ndata: plain\n\n");
    expect(evs).toEqual([
      { event: "token", data: "hel\nlo", id: "7" },
      { event: "message", data: "plain", id: "7" },
    ]);
  });

  it("accepts CRLF, CR and LF line ends, even split across chunks", async () => {
    const evs = await allSplits("data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d\r\ndata: e\r\n\r\n");
    expect(evs.map((e) => e.data)).toEqual(["a", "b", "c", "d\ne"]);
  });

  it("ignores comments, unknown fields and events without data", async () => {
    const evs = await allSplits(": keep-alive\n\nfoo: bar\nevent: x\n\nevent: done\ndata\n\n");
    expect(evs).toEqual([{ event: "done", data: "" }]);
  });

  it("strips exactly one space after the colon and keeps colons in values", async () => {
    const evs = await allSplits("data:no space\n\ndata:  two spaces\n\ndata: a: b\n\n");
    expect(evs.map((e) => e.data)).toEqual(["no space", " two spaces", "a: b"]);
  });

  it("drops a leading BOM, reads retry, and discards an unfinished last event", async () => {
    const evs = await allSplits("\ufeffretry: 1500\ndata: x\n\nretry: soon\ndata: y\n\ndata: never dispatched\n");
    expect(evs).toEqual([{ event: "message", data: "x", retry: 1500 }, { event: "message", data: "y" }]);
  });

  it("decodes multi-byte UTF-8 split between chunks", async () => {
    const bytes = new TextEncoder().encode("data: héllo ✓\n\n");
    const evs = await collect(parseSSE(responseOf([bytes.slice(0, 8), bytes.slice(8, 15), bytes.slice(15)])));
    expect(evs).toEqual([{ event: "message", data: "héllo ✓" }]);
  });

  it("an id with NUL is ignored; an empty id clears it", async () => {
    const evs = await allSplits("id: 1\ndata: a\n\nid: x\u0000y\ndata: b\n\nid\ndata: c\n\n");
    expect(evs).toEqual([
      { event: "message", data: "a", id: "1" },
      { event: "message", data: "b", id: "1" },
      { event: "message", data: "c" },
    ]);
  });

  it("yields events before the stream ends", async () => {
    let push!: (s: string) => void;
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (s) => controller.enqueue(enc.encode(s));
      },
    });
    const it = parseSSE(new Response(body))[Symbol.asyncIterator]();
    push("data: first\n\n");
    expect((await it.next()).value).toEqual({ event: "message", data: "first" });
    await it.return?.();
  });
});

describe("streamSSE", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("POSTs with the token and Last-Event-ID and yields the events", async () => {
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => responseOf(["event: token\ndata: {\"t\":\"hi\"}\n\n"]));
    vi.stubGlobal("fetch", fetchMock);
    const api = new Api("", "tok-1");
    const evs = await collect(streamSSE(api, "butler", "/v1/chat", { body: { message: "hello" }, lastEventId: "4" }));
    expect(evs).toEqual([{ event: "token", data: '{"t":"hi"}' }]);
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe("/api/butler/v1/chat");
    expect(init.method).toBe("POST");
    const h = init.headers as Record<string, string>;
    expect(h.Authorization).toBe("Bearer tok-1");
    expect(h.Accept).toBe("text/event-stream");
    expect(h["Last-Event-ID"]).toBe("4");
    expect(JSON.parse(init.body as string)).toEqual({ message: "hello" });
  });

  it("throws ApiError with the problem on an error response", async () => {
    vi.stubGlobal("fetch", async () =>
      new Response(JSON.stringify({ type: "https://elysium.dev/problems/ticket-not-found", title: "Not Found", status: 404, detail: "no such ticket" }), {
        status: 404,
        headers: { "Content-Type": "application/problem+json" },
      }),
    );
    const err = await collect(streamSSE(new Api(""), "matchmaker", "/v1/tickets/x/events")).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(404);
    expect(err.code).toBe("ticket-not-found");
    expect(err.message).toBe("no such ticket");
  });

  it("throws ApiError with status 0 when the service is unreachable", async () => {
    vi.stubGlobal("fetch", async () => {
      throw new TypeError("Failed to fetch");
    });
    const err = await collect(streamSSE(new Api(""), "butler", "/v1/chat", { body: {} })).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(0);
  });
});
