/**
 * Game protocol version 1 (docs/protocol.md): every websocket message is one msgpack map
 * with its type under "t". This module only turns bytes into typed messages and back; it
 * does no I/O. Server messages of an unknown type decode as `{t: "unknown"}` and unknown
 * keys are kept but never needed, as the protocol asks of clients.
 */
import { decode, encode } from "@msgpack/msgpack";

export const PROTOCOL_VERSION = 1;
export const PLAY_PATH = "/v1/play";
export const SEQ_MODULUS = 2 ** 32;
const SEQ_HALF = 2 ** 31;
export const MAX_INPUTS_PER_MESSAGE = 16;
export const MAX_CLIENT_MESSAGE_BYTES = 4096;
export const MAX_TOKEN_CHARS = 2048;
export const MAX_RESUME_CHARS = 64;
export const MAX_CHAT_CHARS = 500;
/** Wire units: 1 = 1 cm for positions, 1 = 1 mrad for angles in state. */
export const POSITION_SCALE = 100;
export const ANGLE_SCALE = 1000;

/** Whether `seq` is newer than `last` (-1: nothing yet), modulo 2³² (RFC 1982). */
export function seqAfter(seq: number, last: number): boolean {
  if (last < 0) return true;
  const d = (((seq - last) % SEQ_MODULUS) + SEQ_MODULUS) % SEQ_MODULUS;
  return d > 0 && d < SEQ_HALF;
}

/** The sequence number after `seq` (wrapping after 2³² − 1 to 0; after -1 comes 0). */
export function nextSeq(seq: number): number {
  return (seq + 1) % SEQ_MODULUS;
}

// --- shapes ------------------------------------------------------------------------------

export type FieldType = "int" | "float" | "bool" | "enum" | "move";
export interface InputField {
  name: string;
  type: FieldType;
  default: number | boolean;
  hold: boolean;
  latch: boolean;
  min?: number;
  max?: number;
  choices?: string[];
}
export interface InputSchema {
  row: string[];
  fields: InputField[];
}
export interface ColumnUnit {
  name: string;
  scale: number;
  unit?: string;
}
export interface Columns {
  player: string[];
  motion: number;
  object: string[];
  player_units?: ColumnUnit[];
  object_units?: ColumnUnit[];
}
/** The arena's `welcome.map` (other modes send their own map). */
export interface ArenaMap {
  name: string;
  width_cm: number;
  height_cm: number;
  obstacles_cm: [number, number, number, number][];
  spawns_cm: [number, number][];
  player_radius_cm: number;
  player_speed_cm_s: number;
  projectile_speed_cm_s: number;
  projectile_lifetime_ms: number;
  fire_cooldown_ms: number;
  respawn_delay_ms: number;
  max_hp: number;
  damage: number;
  score_limit: number;
  time_limit_s: number;
}
export type RoomState = "waiting" | "running" | "finished" | string;

export interface Welcome {
  t: "welcome";
  v: number;
  player: number;
  player_id: string;
  match: string;
  mode: string;
  tick_hz: number;
  seats: number;
  teams: number;
  team: number;
  map: Record<string, unknown>;
  columns: Columns;
  input: InputSchema;
  options: Record<string, unknown>;
  api: number;
  resume: string;
  grace_s: number;
  state: RoomState;
}
/** `[seat, player_id, name, team, connected]` */
export type RosterRow = [number, string, string, number, boolean];
export interface Keyframe {
  t: "keyframe";
  n: number;
  ts: number;
  match: string;
  mode: string;
  state: RoomState;
  tick_hz: number;
  /** `[seat, ...player columns]` */
  players: number[][];
  objects: number[][];
  roster: RosterRow[];
  a: [number, number][];
}
export interface Delta {
  t: "delta";
  n: number;
  ts: number;
  p?: number[][];
  s?: number[][];
  gone?: number[];
  "o+"?: number[][];
  "o-"?: number[];
  a?: [number, number][];
}
export interface ResultRow {
  player_id: string;
  seat: number;
  name: string;
  team: number;
  score: number;
  kills?: number;
  deaths?: number;
  time_played_s: number;
  [stat: string]: unknown;
}
/**
 * An event of `events.e`, by its kind `k` (docs/protocol.md): `join` {who, id, name, team},
 * `leave` {who, reason}, `drop` {who, grace_s}, `back` {who}, `start` {tick_hz},
 * `hit` {by, to, dmg, hp}, `death` {who, by}, `respawn` {who, x, y}, `end` {reason, results};
 * other modes and later versions may add kinds (ignore what you do not know).
 */
export interface GameEvent {
  k: string;
  [key: string]: unknown;
}
export interface Events {
  t: "events";
  n: number;
  e: GameEvent[];
}
export interface Pong {
  t: "pong";
  id: number;
  ts?: number;
  sts: number;
}
export interface ErrorFrame {
  t: "error";
  code: string;
  msg: string;
  ref?: number;
}
export interface Shutdown {
  t: "shutdown";
  reason: string;
  reconnect?: boolean;
}
export interface ChatLine {
  t: "chat";
  from: number;
  id: string;
  name: string;
  team: number | null;
  text: string;
  ts: number;
}
/** The relay's first message (docs/spectator.md). */
export interface WatchHello {
  t: "watch";
  v: number;
  match: string;
  mode: string | null;
  state: RoomState | null;
  live: boolean;
  delay_s: number;
  min_delay_s: number;
  bundle_s: number;
  from: number | null;
  speed: number;
  tick_hz: number | null;
  players: { seat: number; id: string; name: string; team: number; score: number }[];
  columns: Columns | null;
  map: Record<string, unknown> | null;
  input: InputSchema | null;
  options: Record<string, unknown> | null;
}
export interface WatchEnd {
  t: "end";
  match: string;
  n: number;
  reason: string | null;
  results: ResultRow[] | null;
}
export interface StreamEnded {
  t: "stream_ended";
  match: string;
  reason: string;
  retry: boolean;
}
export interface Unknown {
  t: "unknown";
  type: unknown;
  raw: Record<string, unknown>;
}
export type ServerMessage =
  | Welcome
  | Keyframe
  | Delta
  | Events
  | Pong
  | ErrorFrame
  | Shutdown
  | ChatLine
  | WatchHello
  | WatchEnd
  | StreamEnded
  | Unknown;

/** The server sent bytes that are not a protocol message (not msgpack, not a map, no "t"). */
export class ProtocolError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
  }
}

// --- decoding ----------------------------------------------------------------------------

const KNOWN = new Set(["welcome", "keyframe", "delta", "events", "pong", "error", "shutdown", "chat", "watch", "end", "stream_ended"]);

function toNumber(v: unknown): unknown {
  return typeof v === "bigint" ? Number(v) : v;
}

/** Decode one server message. Throws `ProtocolError` (`bad_frame`) for bytes that are not one. */
export function decodeServer(data: ArrayBuffer | Uint8Array): ServerMessage {
  let msg: unknown;
  try {
    msg = decode(data instanceof Uint8Array ? data : new Uint8Array(data), { useBigInt64: false });
  } catch (exc) {
    throw new ProtocolError("bad_frame", `not a msgpack message: ${(exc as Error).message}`);
  }
  if (msg === null || typeof msg !== "object" || Array.isArray(msg) || msg instanceof Uint8Array) {
    throw new ProtocolError("bad_frame", "message must be a map");
  }
  const m = msg as Record<string, unknown>;
  if (!("t" in m)) throw new ProtocolError("bad_frame", "message must be a map with t");
  // Time stamps in µs fit in a double exactly until the year 2255; never bigint here.
  if ("ts" in m) m.ts = toNumber(m.ts);
  if ("sts" in m) m.sts = toNumber(m.sts);
  if (typeof m.t !== "string" || !KNOWN.has(m.t)) return { t: "unknown", type: m.t, raw: m };
  return m as unknown as ServerMessage;
}

// --- encoding ----------------------------------------------------------------------------

export type ChoiceValue = number | boolean | string;
export type InputValue = number | boolean;

function pack(msg: Record<string, unknown>): Uint8Array {
  return encode(msg);
}

/** `join` with a join token or a resume value (exactly one); `choice` when the mode asks for one. */
export function encodeJoin(opts: { token?: string; resume?: string; choice?: Record<string, ChoiceValue> }): Uint8Array {
  const { token, resume, choice } = opts;
  if ((token === undefined) === (resume === undefined)) throw new RangeError("join needs exactly one of token or resume");
  if (token !== undefined && (!token || token.length > MAX_TOKEN_CHARS)) throw new RangeError(`token must be 1..${MAX_TOKEN_CHARS} characters`);
  if (resume !== undefined && (!resume || resume.length > MAX_RESUME_CHARS)) throw new RangeError(`resume must be 1..${MAX_RESUME_CHARS} characters`);
  const msg: Record<string, unknown> = { t: "join", v: PROTOCOL_VERSION };
  if (choice !== undefined) msg.choice = choice;
  if (token !== undefined) msg.token = token;
  if (resume !== undefined) msg.resume = resume;
  return pack(msg);
}

/** `input`: rows `[seq, ...fields]` in `welcome.input.row` order, 1..16 of them, oldest first. */
export function encodeInputs(rows: InputValue[][]): Uint8Array {
  if (rows.length < 1 || rows.length > MAX_INPUTS_PER_MESSAGE) throw new RangeError(`an input message holds 1..${MAX_INPUTS_PER_MESSAGE} rows`);
  return pack({ t: "input", i: rows });
}

/** An arena input row `[seq, move_x, move_y, aim, fire]`, values clamped to their bounds. */
export function arenaRow(seq: number, moveX: number, moveY: number, aim: number, fire: boolean): InputValue[] {
  const clamp = (v: number, lo: number, hi: number) => (Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : 0);
  return [seq, clamp(moveX, -1, 1), clamp(moveY, -1, 1), clamp(aim, -Math.PI, Math.PI), fire];
}

/** Checks a row against the mode's schema as the server will (throws RangeError naming the field). */
export function checkRow(schema: InputSchema, row: InputValue[]): void {
  if (row.length !== schema.fields.length + 1) throw new RangeError(`an input row has ${schema.fields.length + 1} values`);
  const seq = row[0];
  if (typeof seq !== "number" || !Number.isInteger(seq) || seq < 0 || seq >= SEQ_MODULUS) throw new RangeError("seq must be an integer between 0 and 4294967295");
  schema.fields.forEach((f, i) => {
    const v = row[i + 1];
    const lo = f.min ?? -Infinity;
    const hi = f.max ?? Infinity;
    switch (f.type) {
      case "bool":
        if (typeof v !== "boolean") throw new RangeError(`${f.name} must be a boolean`);
        break;
      case "float":
        if (typeof v !== "number" || !Number.isFinite(v) || v < lo || v > hi) throw new RangeError(`${f.name} must be between ${lo} and ${hi}`);
        break;
      case "enum": {
        const n = f.choices?.length ?? 0;
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= n) throw new RangeError(`${f.name} must be an integer between 0 and ${n - 1}`);
        break;
      }
      default:
        if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${f.name} must be an integer between ${lo} and ${hi}`);
    }
  });
}

/** `ping`: `id` uint32, `ts` your own clock (echoed in the pong) to measure round trips. */
export function encodePing(id: number, ts?: number): Uint8Array {
  const msg: Record<string, unknown> = { t: "ping", id };
  if (ts !== undefined) msg.ts = Math.max(0, Math.floor(ts));
  return pack(msg);
}

export function encodeLeave(): Uint8Array {
  return pack({ t: "leave" });
}

/** A team `chat` line (at most 500 characters after trimming is the server's rule). */
export function encodeChat(text: string, id?: number): Uint8Array {
  const msg: Record<string, unknown> = { t: "chat", text };
  if (id !== undefined) msg.id = id;
  return pack(msg);
}

// --- errors and closes -------------------------------------------------------------------

/** Error codes after which the connection is closed and a reconnect with the same credentials cannot help. */
export const FATAL_ERRORS = new Set([
  "unsupported_version",
  "token_rejected",
  "token_reused",
  "wrong_server",
  "not_in_roster",
  "room_full",
  "room_closed",
  "resume_rejected",
  "join_rejected",
  "banned",
  "draining",
]);

/** What a close means to a player, from its code, its reason and the `error` before it. */
export interface CloseInfo {
  code: number;
  reason: string;
  /** The code of the last `error` frame before the close, if any. */
  error?: string;
  /** The match is over (1000 `match over`). */
  matchOver: boolean;
  /** The client may resume its seat with the `resume` value (a dropped connection, not a refusal). */
  canResume: boolean;
  /** Words for the player. */
  message: string;
}

export function describeClose(code: number, reason: string, lastError?: string): CloseInfo {
  const info: CloseInfo = { code, reason, matchOver: false, canResume: false, message: "" };
  if (lastError) info.error = lastError;
  if (code === 1000) {
    info.matchOver = reason === "match over";
    info.message = info.matchOver ? "The match is over." : "You left the match.";
  } else if (code === 1001) {
    info.message = "The game server is shutting down; queue again for a new match.";
  } else if (code === 1008) {
    if (reason === "replaced by a newer connection") info.message = "This seat is being played from another window.";
    else if (lastError === "banned" || reason === "banned") info.message = "This account is banned.";
    else if (reason === "unsupported protocol version") info.message = "This client speaks an unsupported protocol version.";
    else info.message = `The game server refused the connection (${lastError || reason || "policy"}).`;
  } else if (code === 1009) {
    info.message = "A message was too large for the game server.";
  } else if (code === 1011) {
    info.message = "The game server failed; try again.";
  } else {
    info.canResume = true;
    info.message = "The connection dropped.";
  }
  return info;
}
