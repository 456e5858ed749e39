import { decode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import {
  ProtocolError,
  Replica,
  checkRow,
  decodeServer,
  describeClose,
  encodeChat,
  encodeInputs,
  encodeJoin,
  encodeLeave,
  encodePing,
  nextSeq,
  seqAfter,
  type Delta,
  type Events,
  type InputSchema,
  type InputValue,
  type Keyframe,
  type Welcome,
} from "../src";
import fixtures from "./fixtures/frames.json";

const bytes = (hex: string) => new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

describe("client frames encode exactly as the server's reference client encodes them", () => {
  for (const f of fixtures.client) {
    it(`${f.kind} ${JSON.stringify(f.args)}`, () => {
      const a = f.args as Record<string, unknown>;
      let out: Uint8Array;
      switch (f.kind) {
        case "join":
          out = encodeJoin(a as { token?: string; resume?: string });
          break;
        case "input":
          out = encodeInputs(a.rows as InputValue[][]);
          break;
        case "ping":
          out = encodePing(a.id as number, a.ts as number | undefined);
          break;
        case "leave":
          out = encodeLeave();
          break;
        default:
          out = encodeChat(a.text as string, a.id as number | undefined);
      }
      expect(hex(out)).toBe(f.hex);
    });
  }

  it("refuses a join with both or neither credential, and over-long ones", () => {
    expect(() => encodeJoin({})).toThrow(RangeError);
    expect(() => encodeJoin({ token: "a", resume: "b" })).toThrow(RangeError);
    expect(() => encodeJoin({ token: "x".repeat(2049) })).toThrow(/2048/);
    expect(() => encodeJoin({ resume: "x".repeat(65) })).toThrow(/64/);
    expect(() => encodeInputs([])).toThrow(RangeError);
    expect(() => encodeInputs(Array.from({ length: 17 }, (_, i) => [i, 0, 0, 0, false]))).toThrow(RangeError);
  });
});

describe("server frames", () => {
  it("decode to what the server encoded, every type of a whole match", () => {
    const kinds = new Set<string>();
    for (const f of [...fixtures.frames, ...fixtures.extra]) {
      const msg = decodeServer(bytes(f.hex));
      kinds.add(msg.t);
      if (msg.t === "unknown") {
        expect(msg.type).toBe("future_message");
        continue;
      }
      expect(msg).toEqual(f.decoded);
    }
    expect([...kinds].sort()).toEqual(["chat", "delta", "error", "events", "keyframe", "pong", "shutdown", "unknown", "welcome"]);
  });

  it("rebuild the same replica as the reference client", () => {
    const replica = new Replica();
    for (const f of fixtures.frames) {
      const msg = decodeServer(bytes(f.hex));
      if (msg.t === "welcome") replica.setColumns((msg as Welcome).columns);
      else replica.apply(msg as Keyframe | Delta | Events);
    }
    const want = fixtures.replica;
    const obj = <V,>(m: Map<number, V>) => Object.fromEntries([...m].map(([k, v]) => [String(k), v]));
    expect(replica.tick).toBe(want.tick);
    expect(obj(replica.players)).toEqual(want.players);
    expect(obj(replica.objects)).toEqual(want.objects);
    expect(obj(replica.roster)).toEqual(want.roster);
    expect(obj(replica.acks)).toEqual(want.acks);
    expect(replica.state).toBe("finished");
  });

  it("skip a stale delta but apply one of the replica's own tick", () => {
    const r = new Replica();
    r.apply({ t: "keyframe", n: 5, ts: 0, match: "m", mode: "arena", state: "running", tick_hz: 20, players: [[0, 100, 100, 0, 100, 1, 0, 0, 0, 0]], objects: [], roster: [], a: [[0, 3]] });
    expect(r.apply({ t: "delta", n: 4, ts: 0, p: [[0, 1, 1, 0]] })).toBe(false);
    expect(r.players.get(0)![0]).toBe(100);
    expect(r.apply({ t: "delta", n: 5, ts: 0, p: [[0, 130, 100, 0]], a: [[0, 4]] })).toBe(true);
    expect(r.players.get(0)![0]).toBe(130);
    expect(r.acks.get(0)).toBe(4);
  });

  it("not msgpack, or not a map with t, is a ProtocolError", () => {
    expect(() => decodeServer(new Uint8Array([0xc1]))).toThrow(ProtocolError);
    expect(() => decodeServer(new Uint8Array([0x93, 1, 2, 3]))).toThrow(/map/);
    expect(() => decodeServer(new Uint8Array([0x81, 0xa1, 0x78, 0x01]))).toThrow(/with t/);
  });

  it("the documented example bytes are a ping", () => {
    expect(hex(encodePing(1))).toBe("82a174a470696e67a2696401");
    expect(decode(bytes("82a174a470696e67a2696401"))).toEqual({ t: "ping", id: 1 });
  });
});

describe("sequence numbers", () => {
  it("compare modulo 2^32 and wrap", () => {
    expect(seqAfter(0, -1)).toBe(true);
    expect(seqAfter(5, 4)).toBe(true);
    expect(seqAfter(4, 4)).toBe(false);
    expect(seqAfter(3, 4)).toBe(false);
    expect(seqAfter(0, 4294967295)).toBe(true);
    expect(seqAfter(4294967295, 0)).toBe(false);
    expect(seqAfter(2 ** 31 - 1 + 10, 10)).toBe(true);
    expect(seqAfter(2 ** 31 + 10, 10)).toBe(false);
    expect(nextSeq(4294967295)).toBe(0);
    expect(nextSeq(-1)).toBe(0);
  });
});

describe("input rows are checked against the welcome's schema", () => {
  const schema = (fixtures.frames[0].decoded as unknown as Welcome).input as InputSchema;
  it("accepts the arena's row and names a bad field", () => {
    expect(() => checkRow(schema, [1, 0.5, -0.5, 3.14, true])).not.toThrow();
    expect(() => checkRow(schema, [1, 1.5, 0, 0, false])).toThrow(/move_x/);
    expect(() => checkRow(schema, [1, 0, 0, 4, false])).toThrow(/aim/);
    expect(() => checkRow(schema, [1, 0, 0, 0, 1])).toThrow(/fire/);
    expect(() => checkRow(schema, [-1, 0, 0, 0, false])).toThrow(/seq/);
    expect(() => checkRow(schema, [1, 0, 0, 0])).toThrow(/5 values/);
  });
});

describe("closes", () => {
  it("say what happened and whether to resume", () => {
    expect(describeClose(1000, "match over").matchOver).toBe(true);
    expect(describeClose(1006, "").canResume).toBe(true);
    expect(describeClose(1008, "replaced by a newer connection").canResume).toBe(false);
    expect(describeClose(1008, "banned", "banned").message).toMatch(/banned/);
    expect(describeClose(1008, "token_rejected", "token_rejected").message).toMatch(/token_rejected/);
    expect(describeClose(1001, "server shutting down").canResume).toBe(false);
  });
});
