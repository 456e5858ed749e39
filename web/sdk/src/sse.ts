/**
 * Server-sent events over fetch (so a stream can be a POST and carry Authorization, which
 * EventSource cannot): `parseSSE` turns a Response body into events, following the
 * HTML event-stream rules (LF, CR or CRLF line ends split anywhere across chunks, comments,
 * multi-line data, `id` kept across events, a leading BOM dropped, an unfinished event at
 * the end of the stream discarded). `streamSSE` opens one through the `Api`.
 */
import { ApiError, problemOf, type Api, type RequestOptions, type Service } from "./http";

export interface SSEEvent {
  /** The `event:` field, "message" when the server sent none. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The last event id seen on this stream (ids persist until replaced), if any. */
  id?: string;
  /** A `retry:` reconnection time in milliseconds, when this event carried one. */
  retry?: number;
}

/** Splits decoded text into lines; a CR at the end of one chunk may pair with an LF opening the next. */
class LineSplitter {
  private buf = "";
  private lastWasCR = false;

  push(text: string): string[] {
    const lines: string[] = [];
    let start = 0;
    let i = 0;
    if (this.lastWasCR && text.startsWith("\n")) {
      start = i = 1;
    }
    this.lastWasCR = false;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13) {
        lines.push(this.buf + text.slice(start, i));
        this.buf = "";
        if (c === 13) {
          if (i + 1 < text.length) {
            if (text.charCodeAt(i + 1) === 10) i++;
          } else {
            this.lastWasCR = true;
          }
        }
        start = i + 1;
      }
    }
    this.buf += text.slice(start);
    return lines;
  }
}

/** The event-stream interpretation of lines, one event per blank line. */
export class SSEParser {
  private data: string[] = [];
  private hasData = false;
  private event = "";
  private lastId: string | undefined;
  private retry: number | undefined;
  private splitter = new LineSplitter();
  private first = true;

  /** Feeds decoded text; returns the events it completed. */
  push(text: string): SSEEvent[] {
    if (this.first && text.length) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.first = false;
    }
    const out: SSEEvent[] = [];
    for (const line of this.splitter.push(text)) {
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  private line(line: string): SSEEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    let field = line;
    let value = "";
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
    }
    switch (field) {
      case "event":
        this.event = value;
        break;
      case "data":
        this.data.push(value);
        this.hasData = true;
        break;
      case "id":
        if (!value.includes("\u0000")) this.lastId = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
    return null;
  }

  private dispatch(): SSEEvent | null {
    const hasData = this.hasData;
    const ev: SSEEvent = { event: this.event || "message", data: this.data.join("\n") };
    if (this.lastId) ev.id = this.lastId;
    if (this.retry !== undefined) ev.retry = this.retry;
    this.data = [];
    this.hasData = false;
    this.event = "";
    this.retry = undefined;
    return hasData ? ev : null;
  }
}

/** The events of a `text/event-stream` Response body, as they arrive. */
export async function* parseSSE(response: Response): AsyncIterable<SSEEvent> {
  if (!response.body) return;
  const reader = response.body.getReader();
  const decoder = new TextDecoder("utf-8");
  const parser = new SSEParser();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const ev of parser.push(decoder.decode(value, { stream: true }))) yield ev;
    }
    for (const ev of parser.push(decoder.decode())) yield ev;
  } finally {
    reader.releaseLock();
    // Leaving the loop early (break, error, abort) closes the connection.
    response.body.cancel().catch(() => undefined);
  }
}

export interface StreamOptions extends RequestOptions {
  /** Resume after this id (sent as `Last-Event-ID`). */
  lastEventId?: string;
}

/**
 * Opens an event stream on a service through the one-origin gateway: GET, or POST when
 * `body` is given (e.g. the butler's `POST /v1/chat`). A problem response throws `ApiError`
 * before any event; a network failure throws `ApiError` with status 0.
 */
export async function* streamSSE(api: Api, service: Service, path: string, opts: StreamOptions = {}): AsyncIterable<SSEEvent> {
  const headers = { ...(opts.headers || {}) };
  if (opts.lastEventId) headers["Last-Event-ID"] = opts.lastEventId;
  const resp = await api.fetch(service, path, { ...opts, headers }, "text/event-stream");
  if (!resp.ok) throw new ApiError(await problemOf(resp));
  yield* parseSSE(resp);
}
