import { encode } from "@msgpack/msgpack";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GameClient, JoinError, encodeJoin } from "../src";
import { FakeSocket, fromHex } from "./fakesocket";
import fixtures from "./fixtures/frames.json";

// The frames of a real two-player arena room (seat 0 is "Alice", the welcomed player).
const frames = fixtures.frames.map((f) => ({ bytes: fromHex(f.hex), msg: f.decoded as Record<string, unknown> }));
const firstRunning = frames.findIndex((f) => f.msg.t === "delta" && (f.msg.n as number) >= 1);
// The first running delta and the events after it (the joins and the start).

let clock = 0;
beforeEach(() => {
  FakeSocket.made = [];
  clock = 1000;
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

function client(opts = {}) {
  return new GameClient("ws://game.example:7350/v1/play", { webSocket: FakeSocket.factory, now: () => clock, ...opts });
}

async function joined(c: GameClient) {
  const p = c.connect({ token: "join-token" });
  const ws = FakeSocket.made[FakeSocket.made.length - 1];
  ws.open();
  ws.deliver(frames[0].bytes); // welcome
  ws.deliver(frames[1].bytes); // keyframe
  const welcome = await p;
  return { ws, welcome };
}

describe("GameClient", () => {
  it("joins with the token and resolves once the welcome and keyframe arrived", async () => {
    const c = client();
    const { ws, welcome } = await joined(c);
    expect(ws.binaryType).toBe("arraybuffer");
    expect(ws.sent[0]).toEqual(encodeJoin({ token: "join-token" }));
    expect(welcome.player).toBe(0);
    expect(c.seat).toBe(0);
    expect(c.world.map?.width_cm).toBe(6400);
    c.close();
  });

  it("sends nothing while the room waits, then one input per tick as the deltas come, continuing the seat's numbering and resending what is unacknowledged", async () => {
    const c = client({ pingEveryMs: 0 });
    const { ws } = await joined(c);
    vi.advanceTimersByTime(200);
    expect(ws.messages().filter((m) => m.t === "input")).toEqual([]); // waiting: inputs would be discarded
    for (const f of frames.slice(2, firstRunning + 2)) ws.deliver(f.bytes);
    expect(c.running).toBe(true);
    const inputs = () => ws.messages().filter((m) => m.t === "input") as { i: unknown[][] }[];
    const ack = c.world.replica.acks.get(0)!;
    expect(inputs().map((m) => m.i.map((r) => r[0]))).toEqual([[ack + 1]]); // the first running delta paced one
    c.setInput({ moveX: 1, moveY: 0, aim: 0.5 });
    c.fire();
    ws.deliver(encode({ t: "delta", n: 2, ts: 0 }));
    ws.deliver(encode({ t: "delta", n: 2, ts: 0 })); // the same tick again paces nothing
    ws.deliver(encode({ t: "delta", n: 3, ts: 0 }));
    const sent = inputs();
    expect(sent.length).toBe(3);
    expect(sent[1].i[1]).toEqual([ack + 2, 1, 0, 0.5, true]); // the latched shot goes once
    expect(sent[2].i.map((r) => r[0])).toEqual([ack + 1, ack + 2, ack + 3]); // resends the unacknowledged
    expect(sent[2].i[2][4]).toBe(false);
    // The server acknowledges two: only the third is resent with the next.
    ws.deliver(encode({ t: "delta", n: 4, ts: 0, a: [[0, ack + 2]] }));
    expect(inputs().pop()!.i.map((r) => r[0])).toEqual([ack + 3, ack + 4]);
    c.close();
  });

  it("without deltas (a stall) still sends, at most once every two and a half ticks", async () => {
    const c = client({ pingEveryMs: 0 });
    const { ws } = await joined(c);
    for (const f of frames.slice(2, firstRunning + 2)) ws.deliver(f.bytes);
    const count = () => ws.messages().filter((m) => m.t === "input").length;
    const before = count();
    for (let i = 0; i < 10; i++) {
      clock += 50;
      vi.advanceTimersByTime(50);
    }
    expect(count() - before).toBeGreaterThanOrEqual(3);
    expect(count() - before).toBeLessThanOrEqual(4);
    c.close();
  });

  it("predicts its own seat and interpolates the others in the view", async () => {
    const c = client({ pingEveryMs: 0 });
    const { ws } = await joined(c);
    for (const f of frames.slice(2, firstRunning + 2)) ws.deliver(f.bytes);
    const before = c.selfPosition()!;
    c.setInput({ moveX: 1, moveY: 0 });
    ws.deliver(encode({ t: "delta", n: 2, ts: 0 }));
    const after = c.selfPosition()!;
    expect(after.x - before.x).toBeCloseTo(30, 6); // one step of 6 m/s at 20 Hz, before any answer
    const view = c.view(clock);
    expect(view.players.map((p) => [p.seat, p.name, p.self])).toEqual([[0, "Alice", true], [1, "Bob", false]]);
    expect(view.players[0].x).toBeCloseTo(after.x, 6);
    c.close();
  });

  it("measures the round trip from pongs", async () => {
    const c = client({ pingEveryMs: 1000 });
    const { ws } = await joined(c);
    const ping = ws.messages().find((m) => m.t === "ping")!;
    clock += 80;
    ws.deliver(encode({ t: "pong", id: ping.id, ts: ping.ts, sts: 1 }));
    expect(c.rttMs).toBeCloseTo(80, 3);
    c.close();
  });

  it("plays a whole match: hits, deaths and the result", async () => {
    const c = client({ pingEveryMs: 0 });
    const { ws } = await joined(c);
    const kinds: string[] = [];
    c.on("events", (e) => kinds.push(...e.map((x) => x.k)));
    let ended = null as null | { reason: string };
    c.on("end", (e) => (ended = e));
    for (const f of frames.slice(2)) ws.deliver(f.bytes);
    expect(kinds).toContain("hit");
    expect(kinds).toContain("death");
    expect(ended!.reason).toBe("score");
    expect(c.result!.results[0]).toMatchObject({ name: "Alice", kills: 2 });
    let closed = null as null | { matchOver: boolean };
    c.on("close", (i) => (closed = i));
    ws.serverClose(1000, "match over");
    expect(closed!.matchOver).toBe(true);
    expect(FakeSocket.made.length).toBe(1); // no reconnect after the end
  });

  it("carries team chat both ways", async () => {
    const c = client({ pingEveryMs: 0 });
    const { ws } = await joined(c);
    const id = c.sendChat("  push mid ");
    expect(ws.messages().pop()).toEqual({ t: "chat", text: "push mid", id });
    ws.deliver(fromHex(fixtures.extra[4].hex));
    expect(c.chatLog.map((l) => [l.name, l.text])).toEqual([["Bob", "nice shot"]]);
    expect(() => c.sendChat("   ")).toThrow(RangeError);
    expect(() => c.sendChat("x".repeat(501))).toThrow(RangeError);
    c.close();
  });

  it("a refused join rejects with the server's code and does not retry", async () => {
    const c = client();
    const p = c.connect({ token: "old" });
    const ws = FakeSocket.made[0];
    ws.open();
    ws.deliver(fromHex(fixtures.extra[3].hex)); // token_rejected
    ws.serverClose(1008, "token_rejected");
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(JoinError);
    expect(err.code).toBe("token_rejected");
    vi.advanceTimersByTime(10000);
    expect(FakeSocket.made.length).toBe(1);
  });

  it("takes its seat back with the resume value after a dropped connection", async () => {
    const c = client({ pingEveryMs: 0 });
    const { ws } = await joined(c);
    const attempts: number[] = [];
    c.on("reconnecting", (r) => attempts.push(r.attempt));
    ws.serverClose(1006);
    expect(attempts).toEqual([1]);
    vi.advanceTimersByTime(300);
    const again = FakeSocket.made[1];
    again.open();
    expect(again.sent[0]).toEqual(encodeJoin({ resume: (frames[0].msg as { resume: string }).resume }));
    c.close();
  });

  it("does not reconnect when another connection took the seat", async () => {
    const c = client({ pingEveryMs: 0 });
    const { ws } = await joined(c);
    let closed = null as null | { message: string; canResume: boolean };
    c.on("close", (i) => (closed = i));
    ws.serverClose(1008, "replaced by a newer connection");
    vi.advanceTimersByTime(10000);
    expect(FakeSocket.made.length).toBe(1);
    expect(closed!.canResume).toBe(false);
    expect(closed!.message).toMatch(/another window/);
  });
});
