/**
 * `GameClient`: one player's connection to a game server (docs/protocol.md). It joins with
 * the matchmaker's join token (or a `resume` value), keeps the replica from the keyframe and
 * deltas, sends the held input once per server tick with wrapping sequence numbers (resending
 * the unacknowledged ones, at most 16) — paced by the server's own deltas, so the client's
 * clock cannot drift against the tick and no tick gets two inputs or none — predicts its own movement and reconciles it from the
 * acknowledged sequence, interpolates the others, measures the round trip with pings, carries
 * team chat, turns events into effects and the match result, and says why a connection
 * closed. After a dropped connection it takes its seat back with `resume` within the grace.
 */
import { Emitter } from "./emitter";
import { Predictor, rulesFromMap } from "./prediction";
import {
  MAX_CHAT_CHARS,
  MAX_INPUTS_PER_MESSAGE,
  arenaRow,
  decodeServer,
  describeClose,
  encodeChat,
  encodeInputs,
  encodeJoin,
  encodeLeave,
  encodePing,
  nextSeq,
  seqAfter,
  type ChatLine,
  type ChoiceValue,
  type CloseInfo,
  type ErrorFrame,
  type Events,
  type GameEvent,
  type InputValue,
  type ResultRow,
  type ServerMessage,
  type Welcome,
} from "./protocol";
import type { WorldView } from "./view";
import { MatchWorld } from "./world";

export type WebSocketLike = WebSocket;
export type WebSocketFactory = (url: string) => WebSocketLike;

export interface GameClientOptions {
  /** Makes the websocket (default: the global `WebSocket`). */
  webSocket?: WebSocketFactory;
  /** A clock in milliseconds (default `performance.now`). */
  now?: () => number;
  /** Ping interval (ms); 0 disables pings. Default 1000. */
  pingEveryMs?: number;
  /** Resume the seat after a dropped connection (default true). */
  autoResume?: boolean;
  /** Time allowed for join → welcome + keyframe (ms). Default 10000. */
  joinTimeoutMs?: number;
}

/** The arena's input: movement −1..1 per axis, aim in radians, fire held down. */
export interface ArenaInput {
  moveX: number;
  moveY: number;
  aim: number;
  fire: boolean;
}

export interface MatchEnd {
  reason: string;
  results: ResultRow[];
}

export interface GameClientEvents {
  welcome: Welcome;
  /** After every applied keyframe or delta. */
  state: { tick: number };
  events: GameEvent[];
  chat: ChatLine;
  error: ErrorFrame;
  end: MatchEnd;
  rtt: number;
  shutdown: { reason: string };
  /** A dropped connection that the client is resuming. */
  reconnecting: { attempt: number };
  close: CloseInfo;
}

/** A join was refused (its `error` code) or the connection failed before `welcome`. */
export class JoinError extends Error {
  readonly code: string;
  readonly close?: CloseInfo;
  constructor(code: string, message: string, close?: CloseInfo) {
    super(message);
    this.name = "JoinError";
    this.code = code;
    this.close = close;
  }
}

export class GameClient extends Emitter<GameClientEvents> {
  readonly url: string;
  readonly world: MatchWorld;
  welcome: Welcome | null = null;
  /** The last seq sent (-1: none). */
  seq = -1;
  rttMs: number | null = null;
  result: MatchEnd | null = null;
  closed: CloseInfo | null = null;
  chatLog: ChatLine[] = [];
  private ws: WebSocketLike | null = null;
  private opts: Required<Omit<GameClientOptions, "webSocket">> & { webSocket: WebSocketFactory };
  private predictor: Predictor | null = null;
  private input: ArenaInput = { moveX: 0, moveY: 0, aim: 0, fire: false };
  private fireLatch = false;
  private unacked: InputValue[][] = [];
  private inputTimer: ReturnType<typeof setInterval> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pingId = 0;
  private chatId = 0;
  private lastError: ErrorFrame | null = null;
  private leaving = false;
  private resumeAttempts = 0;

  constructor(url: string, opts: GameClientOptions = {}) {
    super();
    this.url = url;
    this.opts = {
      webSocket: opts.webSocket ?? ((u) => new WebSocket(u)),
      now: opts.now ?? (() => performance.now()),
      pingEveryMs: opts.pingEveryMs ?? 1000,
      autoResume: opts.autoResume ?? true,
      joinTimeoutMs: opts.joinTimeoutMs ?? 10000,
    };
    this.world = new MatchWorld(this.opts.now);
  }

  /** The prediction of our seat (null before the welcome, or for a mode without an arena map). */
  get prediction(): Predictor | null {
    return this.predictor;
  }

  /** Our seat, once welcomed. */
  get seat(): number | null {
    return this.welcome ? this.welcome.player : null;
  }

  get running(): boolean {
    return this.world.replica.state === "running";
  }

  /** Join with a join token (or resume a held seat); resolves once the welcome and keyframe arrived. */
  connect(join: { token: string; choice?: Record<string, ChoiceValue> } | { resume: string }): Promise<Welcome> {
    this.leaving = false;
    this.closed = null;
    return new Promise<Welcome>((resolve, reject) => {
      let settled = false;
      let welcomed: Welcome | null = null;
      const ws = this.opts.webSocket(this.url);
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      const timer = setTimeout(() => fail(new JoinError("timeout", "the game server did not answer the join in time")), this.opts.joinTimeoutMs);
      const fail = (err: JoinError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err);
        try {
          ws.close();
        } catch {
          /* already closed */
        }
      };
      ws.onopen = () => ws.send(encodeJoin(join));
      ws.onmessage = (ev: MessageEvent) => {
        if (!(ev.data instanceof ArrayBuffer)) return;
        let msg: ServerMessage;
        try {
          msg = decodeServer(ev.data);
        } catch {
          return; // not a message: nothing to apply
        }
        if (!settled) {
          if (msg.t === "error") {
            this.lastError = msg;
            fail(new JoinError(msg.code, msg.msg));
            return;
          }
          if (msg.t === "welcome") welcomed = msg;
        }
        this.handle(msg);
        if (!settled && welcomed && msg.t === "keyframe") {
          settled = true;
          clearTimeout(timer);
          this.resumeAttempts = 0;
          resolve(welcomed);
        }
      };
      ws.onclose = (ev: CloseEvent) => {
        const info = describeClose(ev.code, ev.reason, this.lastError?.code);
        if (!settled) {
          fail(new JoinError(this.lastError?.code ?? "closed", this.lastError?.msg ?? info.message, info));
          if (this.ws === ws && this.resumeAttempts > 0) this.onClosed(info); // a resume that failed: again, or give up
          else if (this.ws === ws) this.stopTimers();
          return;
        }
        if (this.ws === ws) this.onClosed(info);
      };
      ws.onerror = () => {
        /* a close event follows */
      };
    });
  }

  /** The input held from now on; sent once per tick (fire is sent while held). */
  setInput(input: Partial<ArenaInput>): void {
    this.input = { ...this.input, ...input };
  }

  /** One shot with the next input, even if fire is not held. */
  fire(): void {
    this.fireLatch = true;
  }

  /** A team chat line; refusals come back as `error` frames whose `ref` is the returned id. */
  sendChat(text: string): number {
    const t = text.trim();
    if (!t) throw new RangeError("a chat line cannot be empty");
    if (t.length > MAX_CHAT_CHARS) throw new RangeError(`a chat line is at most ${MAX_CHAT_CHARS} characters`);
    this.chatId = nextSeq(this.chatId);
    this.send(encodeChat(t, this.chatId));
    return this.chatId;
  }

  ping(): void {
    this.pingId = nextSeq(this.pingId);
    this.send(encodePing(this.pingId, Math.round(this.opts.now() * 1000)));
  }

  /** Give up the seat now (no grace); the server closes with 1000 `left`. */
  leave(): void {
    this.leaving = true;
    this.send(encodeLeave());
  }

  /** Close the socket without giving up the seat (it stays held for the grace period). */
  close(): void {
    this.leaving = true;
    this.stopTimers();
    this.ws?.close(1000);
  }

  /** The world to draw at `nowMs`: our seat predicted, others interpolated. */
  view(nowMs = this.opts.now()): WorldView {
    const seat = this.seat;
    const p = this.predictor;
    const selfPos = p && p.ready && this.running ? { x: p.x, y: p.y } : null;
    return this.world.view(nowMs, { selfSeat: seat, selfPos });
  }

  /** Our predicted position (cm), or the server's when not predicting. */
  selfPosition(): { x: number; y: number } | null {
    const p = this.predictor;
    if (p && p.ready && this.running) return { x: p.x, y: p.y };
    const row = this.seat === null ? null : this.world.row(this.seat);
    return row ? { x: row.x_cm, y: row.y_cm } : null;
  }

  // --- internals ------------------------------------------------------------------------

  private send(data: Uint8Array): void {
    if (this.ws && this.ws.readyState === 1) this.ws.send(data);
  }

  private handle(msg: ServerMessage): void {
    switch (msg.t) {
      case "welcome":
        this.welcome = msg;
        this.world.describe(msg);
        this.predictor = this.world.map ? new Predictor(rulesFromMap(this.world.map, msg.tick_hz)) : null;
        this.unacked = [];
        this.emit("welcome", msg);
        break;
      case "keyframe": {
        this.world.apply(msg);
        const seat = this.seat;
        // Sequence numbers belong to the seat: go on after the last one it applied.
        const ack = seat === null ? -1 : this.world.replica.acks.get(seat) ?? -1;
        if (ack >= 0 && (this.seq < 0 || seqAfter(ack, this.seq))) this.seq = ack;
        this.unacked = [];
        const row = seat === null ? null : this.world.row(seat);
        if (row && this.predictor) this.predictor.reset(row.x_cm, row.y_cm, row.alive === 1);
        this.sentForTick = msg.n - 1;
        this.startTimers();
        this.emit("state", { tick: msg.n });
        break;
      }
      case "delta":
        if (this.world.apply(msg)) {
          this.reconcile();
          this.emit("state", { tick: msg.n });
          // One input per tick, sent as the tick's delta arrives: it reaches the server before
          // the next tick (given a one-way latency under a tick, or steady latency).
          if (msg.n > this.sentForTick) {
            this.sentForTick = msg.n;
            this.tickInput();
          }
        }
        break;
      case "events":
        this.onEvents(msg);
        break;
      case "pong":
        if (msg.ts !== undefined) {
          const rtt = this.opts.now() - msg.ts / 1000;
          if (rtt >= 0 && rtt < 60000) {
            this.rttMs = this.rttMs === null ? rtt : this.rttMs * 0.8 + rtt * 0.2;
            this.emit("rtt", this.rttMs);
          }
        }
        break;
      case "error":
        this.lastError = msg;
        this.emit("error", msg);
        break;
      case "chat":
        this.chatLog.push(msg);
        if (this.chatLog.length > 200) this.chatLog.shift();
        this.emit("chat", msg);
        break;
      case "shutdown":
        this.emit("shutdown", { reason: msg.reason });
        break;
      default:
        break; // unknown types are ignored, as the protocol asks
    }
  }

  private onEvents(msg: Events): void {
    this.world.apply(msg);
    for (const ev of msg.e) {
      if (ev.k === "end") {
        this.result = { reason: ev.reason as string, results: (ev.results as ResultRow[]) ?? [] };
        this.emit("end", this.result);
      }
    }
    this.emit("events", msg.e);
  }

  private reconcile(): void {
    const seat = this.seat;
    if (seat === null) return;
    const ack = this.world.replica.acks.get(seat) ?? -1;
    this.unacked = this.unacked.filter((row) => seqAfter(row[0] as number, ack));
    const row = this.world.row(seat);
    if (row && this.predictor) this.predictor.reconcile(row.x_cm, row.y_cm, row.alive === 1, ack);
  }

  /** The last tick whose delta an input was sent for. */
  private sentForTick = -1;
  private lastSentAt = -Infinity;

  /** Without deltas (a stall) inputs still go out at the tick rate. */
  private fallbackInput(): void {
    if (!this.welcome) return;
    if (this.opts.now() - this.lastSentAt >= 2.5 * (1000 / this.welcome.tick_hz)) this.tickInput();
  }

  private tickInput(): void {
    if (!this.welcome || !this.running) return;
    const i = this.input;
    this.seq = nextSeq(this.seq);
    const row = arenaRow(this.seq, i.moveX, i.moveY, i.aim, i.fire || this.fireLatch);
    this.fireLatch = false;
    this.unacked.push(row);
    if (this.unacked.length > MAX_INPUTS_PER_MESSAGE) this.unacked.splice(0, this.unacked.length - MAX_INPUTS_PER_MESSAGE);
    this.predictor?.applyInput(this.seq, row[1] as number, row[2] as number);
    this.lastSentAt = this.opts.now();
    this.send(encodeInputs(this.unacked));
  }

  private startTimers(): void {
    if (!this.welcome) return;
    if (!this.inputTimer) this.inputTimer = setInterval(() => this.fallbackInput(), 1000 / this.welcome.tick_hz);
    if (!this.pingTimer && this.opts.pingEveryMs > 0) {
      this.ping();
      this.pingTimer = setInterval(() => this.ping(), this.opts.pingEveryMs);
    }
  }

  private stopTimers(): void {
    if (this.inputTimer) clearInterval(this.inputTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.inputTimer = this.pingTimer = null;
  }

  private onClosed(info: CloseInfo): void {
    this.stopTimers();
    this.ws = null;
    const resume = this.welcome?.resume;
    if (info.canResume && !this.leaving && this.opts.autoResume && resume && !this.result && this.resumeAttempts < 5) {
      this.resumeAttempts += 1;
      this.emit("reconnecting", { attempt: this.resumeAttempts });
      const wait = Math.min(4000, 250 * 2 ** (this.resumeAttempts - 1));
      setTimeout(() => {
        this.connect({ resume }).catch(() => undefined);
      }, wait);
      return;
    }
    this.closeFinally(info);
  }

  private closeFinally(info: CloseInfo): void {
    this.closed = info;
    this.emit("close", info);
  }
}
