/**
 * `SpectatorClient`: watching a match through the spectator relay (docs/spectator.md) at
 * `/api/spectator/v1/watch/{match_id}` on the page's origin. What the relay offers, and only
 * that: a live watch `delay` seconds behind (raised to the mode's minimum), a replay or a
 * seek `from` a tick (or `"start"`) at a `speed` of 0.25 to 16; each is a new watch request,
 * so `seek`, `setSpeed` and `goLive` reconnect. Following a player is the viewer's camera
 * (the relay sends everyone the same feed). The feed is the game's own keyframes, deltas and
 * events, applied to the same replica a player keeps and drawn as the same `WorldView`.
 */
import { Emitter } from "./emitter";
import { decodeServer, describeClose, encodeLeave, encodePing, nextSeq, type ErrorFrame, type GameEvent, type ResultRow, type ServerMessage, type StreamEnded, type WatchHello } from "./protocol";
import type { WebSocketFactory, WebSocketLike } from "./game";
import type { WorldView } from "./view";
import { MatchWorld } from "./world";

/** The relay's own path for a watch, and where the one-origin gateway serves the relay. */
export const RELAY_WATCH_PATH = "/v1/watch/";
export const GATEWAY_RELAY_PREFIX = "/api/spectator";
export const WATCH_PATH = GATEWAY_RELAY_PREFIX + RELAY_WATCH_PATH;
export const MIN_SPEED = 0.25;
export const MAX_SPEED = 16;

export interface WatchOptions {
  /** Seconds behind live (live matches only). */
  delay?: number;
  /** Start at the latest keyframe at or before this tick, or at the start (a replay or a seek). */
  from?: number | "start";
  /** Replay pace, 0.25..16 (with `from`, or for a finished match). */
  speed?: number;
  /** The watcher's player token, so friends see them watching. It travels in the URL: use only on the page's own origin. */
  token?: string;
}

export interface SpectatorClientOptions {
  /** Websocket origin, e.g. `wss://example.com` (default: the page's origin). */
  origin?: string;
  /** Where the relay is served on that origin: `/api/spectator` through the gateway (default), "" for a relay itself. */
  prefix?: string;
  webSocket?: WebSocketFactory;
  now?: () => number;
  /** Reconnect after a relay drains (`shutdown`) or a retryable `stream_ended` (default true). */
  autoReconnect?: boolean;
}

export interface SpectatorEvents {
  hello: WatchHello;
  state: { tick: number };
  events: GameEvent[];
  end: { reason: string | null; results: ResultRow[] | null; tick: number };
  streamEnded: StreamEnded;
  error: ErrorFrame;
  reconnecting: { reason: string };
  close: { code: number; reason: string; error?: string; message: string };
}

/** The watch URL path and query for a match (numbers as the relay reads them: plain decimals). */
export function watchPath(matchId: string, opts: WatchOptions = {}, prefix = GATEWAY_RELAY_PREFIX): string {
  const q = new URLSearchParams();
  if (opts.from !== undefined) q.set("from", opts.from === "start" ? "start" : String(Math.max(0, Math.floor(opts.from))));
  else if (opts.delay !== undefined && opts.delay > 0) q.set("delay", decimal(opts.delay));
  if (opts.speed !== undefined && opts.speed !== 1) q.set("speed", decimal(Math.min(MAX_SPEED, Math.max(MIN_SPEED, opts.speed))));
  if (opts.token) q.set("token", opts.token);
  const s = q.toString();
  return `${prefix}${RELAY_WATCH_PATH}${encodeURIComponent(matchId)}${s ? `?${s}` : ""}`;
}

function decimal(v: number): string {
  // Digits with at most one "." between digits, never an exponent.
  const s = (Math.round(v * 1000) / 1000).toFixed(3).replace(/\.?0+$/, "");
  return s || "0";
}

function pageOrigin(): string {
  const loc = globalThis.location;
  if (!loc) return "ws://127.0.0.1:7400";
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}`;
}

export class SpectatorClient extends Emitter<SpectatorEvents> {
  readonly matchId: string;
  readonly world: MatchWorld;
  hello: WatchHello | null = null;
  options: WatchOptions;
  follow: number | null = null;
  ended: { reason: string | null; results: ResultRow[] | null; tick: number } | null = null;
  closed: { code: number; reason: string; error?: string; message: string } | null = null;
  private ws: WebSocketLike | null = null;
  private cfg: Required<Omit<SpectatorClientOptions, "webSocket">> & { webSocket: WebSocketFactory };
  private lastError: ErrorFrame | null = null;
  private stopping = false;
  private pingId = 0;
  private reconnects = 0;

  constructor(matchId: string, options: WatchOptions = {}, cfg: SpectatorClientOptions = {}) {
    super();
    this.matchId = matchId;
    this.options = { ...options };
    this.cfg = {
      origin: cfg.origin ?? pageOrigin(),
      prefix: cfg.prefix ?? GATEWAY_RELAY_PREFIX,
      webSocket: cfg.webSocket ?? ((u) => new WebSocket(u)),
      now: cfg.now ?? (() => performance.now()),
      autoReconnect: cfg.autoReconnect ?? true,
    };
    this.world = new MatchWorld(this.cfg.now);
    // A relay writes several ticks at once (bundles) and replays may run fast: draw two ticks back.
    this.world.interpolator.delayTicks = 2;
  }

  get url(): string {
    return this.cfg.origin + watchPath(this.matchId, this.options, this.cfg.prefix);
  }

  /** Whether this is a live watch (from the hello), null before it. */
  get live(): boolean | null {
    return this.hello ? this.hello.live : null;
  }

  /** Open the watch; resolves with the relay's `watch` hello, rejects with the relay's error. */
  connect(): Promise<WatchHello> {
    this.stopping = false;
    this.closed = null;
    this.ended = null;
    this.lastError = null;
    const ws = this.cfg.webSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    return new Promise<WatchHello>((resolve, reject) => {
      let settled = false;
      ws.onmessage = (ev: MessageEvent) => {
        if (!(ev.data instanceof ArrayBuffer)) return;
        let msg: ServerMessage;
        try {
          msg = decodeServer(ev.data);
        } catch {
          return;
        }
        if (!settled && msg.t === "error") {
          settled = true;
          this.lastError = msg;
          this.emit("error", msg);
          reject(Object.assign(new Error(msg.msg), { code: msg.code }));
          return;
        }
        if (this.ws !== ws) return;
        this.handle(msg);
        if (!settled && msg.t === "watch") {
          settled = true;
          resolve(msg);
        }
      };
      ws.onclose = (ev: CloseEvent) => {
        if (!settled) {
          settled = true;
          reject(Object.assign(new Error(this.lastError?.msg ?? "the relay closed the watch"), { code: this.lastError?.code ?? "closed" }));
        }
        if (this.ws === ws) this.onClosed(ev.code, ev.reason);
      };
      ws.onerror = () => undefined;
    });
  }

  /** Jump to a tick (a new watch from the keyframe at or before it), keeping the speed. */
  seek(tick: number | "start"): Promise<WatchHello> {
    return this.reopen({ from: tick, speed: this.options.speed, token: this.options.token });
  }

  /** Replay pace from where the view is now. */
  setSpeed(speed: number): Promise<WatchHello> {
    const from = this.options.from === undefined && this.live ? undefined : Math.max(0, Math.floor(this.world.replica.tick));
    if (from === undefined) return this.reopen({ ...this.options, speed: undefined }); // live: no pace
    return this.reopen({ from, speed, token: this.options.token });
  }

  /** Back to the live edge, `delay` seconds behind. */
  goLive(delay = 0): Promise<WatchHello> {
    return this.reopen({ delay, token: this.options.token });
  }

  /** Follow a seat with the camera (null: the whole map). */
  setFollow(seat: number | null): void {
    this.follow = seat;
  }

  ping(): void {
    this.pingId = nextSeq(this.pingId);
    if (this.ws && this.ws.readyState === 1) this.ws.send(encodePing(this.pingId, Math.round(this.cfg.now() * 1000)));
  }

  /** Stop watching. */
  close(): void {
    this.stopping = true;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState === 1) {
      ws.send(encodeLeave());
      ws.close(1000);
    } else ws?.close();
  }

  view(nowMs = this.cfg.now()): WorldView {
    return this.world.view(nowMs, { selfSeat: null, followSeat: this.follow });
  }

  // --- internals ------------------------------------------------------------------------

  private reopen(options: WatchOptions): Promise<WatchHello> {
    this.close();
    this.options = options;
    return this.connect();
  }

  private handle(msg: ServerMessage): void {
    switch (msg.t) {
      case "watch":
        this.hello = msg;
        this.reconnects = 0;
        this.world.describe(msg, msg.from !== null || !msg.live ? msg.speed || 1 : 1);
        // Ticks written together (the relay's bundles) must not run the view dry: draw at
        // least a bundle's worth of ticks behind, plus one.
        this.world.interpolator.delayTicks = Math.max(2, Math.ceil((msg.bundle_s || 0) * (msg.tick_hz ?? 20)) + 1);
        this.world.replica.tick = -1;
        this.world.replica.state = msg.state ?? "running";
        this.emit("hello", msg);
        break;
      case "keyframe":
      case "delta":
        if (this.world.apply(msg)) this.emit("state", { tick: this.world.replica.tick });
        break;
      case "events":
        this.world.apply(msg);
        this.emit("events", msg.e);
        break;
      case "end":
        this.ended = { reason: msg.reason, results: msg.results, tick: msg.n };
        this.world.replica.state = "finished";
        this.emit("end", this.ended);
        break;
      case "stream_ended":
        this.emit("streamEnded", msg);
        if (msg.retry && this.cfg.autoReconnect) this.scheduleReconnect(msg.reason, 3000);
        break;
      case "shutdown":
        if (this.cfg.autoReconnect) this.scheduleReconnect(msg.reason, 200);
        break;
      case "error":
        this.lastError = msg;
        this.emit("error", msg);
        break;
      default:
        break;
    }
  }

  private pendingReconnect: string | null = null;

  private scheduleReconnect(reason: string, waitMs: number): void {
    if (this.reconnects >= 5) return;
    this.pendingReconnect = reason;
    this.reconnects += 1;
    // A replay goes on from where it was; a live watch keeps its delay.
    const tick = this.world.replica.tick;
    const next: WatchOptions = this.options.from !== undefined && tick >= 0 ? { ...this.options, from: tick } : { ...this.options };
    setTimeout(() => {
      if (this.stopping || this.pendingReconnect !== reason) return;
      this.pendingReconnect = null;
      this.emit("reconnecting", { reason });
      this.options = next;
      this.connect().catch(() => undefined);
    }, waitMs * this.reconnects);
  }

  private onClosed(code: number, reason: string): void {
    this.ws = null;
    if (this.pendingReconnect) return; // a reconnect follows
    const info = describeClose(code, reason, this.lastError?.code);
    let message = info.message;
    if (code === 1000) message = this.ended ? "The match is over." : "The watch ended.";
    if (code === 1001) message = "The relay is restarting.";
    if (code === 1011) message = "The match's stream ended.";
    if (this.lastError && code === 1008) message = this.lastError.msg;
    this.closed = { code, reason, message, ...(this.lastError ? { error: this.lastError.code } : {}) };
    this.emit("close", this.closed);
  }
}
