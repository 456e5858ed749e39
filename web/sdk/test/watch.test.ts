import { encode } from "@msgpack/msgpack";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SpectatorClient, watchPath, type WatchOptions } from "../src";
import { FakeSocket, fromHex } from "./fakesocket";
import fixtures from "./fixtures/frames.json";

const w = fixtures.watch;
const game = fixtures.frames.filter((f) => f.decoded.t !== "welcome").map((f) => fromHex(f.hex));

let clock = 0;
beforeEach(() => {
  FakeSocket.made = [];
  clock = 0;
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

function spectator(opts: WatchOptions = {}) {
  return new SpectatorClient("fixture-1", opts, { origin: "wss://play.example", webSocket: FakeSocket.factory, now: () => clock });
}

describe("watch paths", () => {
  it("are the ones the relay reads as meant (check.py parses the same list with the relay's parser)", () => {
    for (const r of fixtures.watch_requests) expect(watchPath(r.match, r.opts as WatchOptions)).toBe(`/api/spectator${r.path}`);
  });
  it("keep speed within the relay's range", () => {
    expect(watchPath("m", { from: 0, speed: 100 })).toBe("/api/spectator/v1/watch/m?from=0&speed=16");
    expect(watchPath("m", { from: 0, speed: 0.1 })).toBe("/api/spectator/v1/watch/m?from=0&speed=0.25");
  });
});

describe("SpectatorClient", () => {
  it("opens the watch on the page's origin and rebuilds the match from the feed", async () => {
    const s = spectator();
    const p = s.connect();
    const ws = FakeSocket.made[0];
    expect(ws.url).toBe("wss://play.example/api/spectator/v1/watch/fixture-1");
    ws.open();
    ws.deliver(fromHex(w.live.hex));
    const hello = await p;
    expect(hello.live).toBe(true);
    const ticks: number[] = [];
    s.on("state", (t) => ticks.push(t.tick));
    for (const b of game) ws.deliver(b);
    expect(ticks.length).toBeGreaterThan(50);
    ws.deliver(fromHex(w.end.hex));
    expect(s.ended!.reason).toBe("score");
    expect(s.ended!.results![0].name).toBe("Alice");
    const players = Object.values(fixtures.replica.players);
    expect([...s.world.replica.players.values()]).toEqual(players);
    const view = s.view(clock);
    expect(view.players.map((p) => p.name)).toEqual(["Alice", "Bob"]);
    expect(view.players.every((p) => !p.self)).toBe(true);
    let closed = null as null | { message: string };
    s.on("close", (c) => (closed = c));
    ws.serverClose(1000);
    expect(closed!.message).toMatch(/over/);
  });

  it("follows a seat with the camera only (the feed is the same for everyone)", async () => {
    const s = spectator();
    const p = s.connect();
    FakeSocket.made[0].open();
    FakeSocket.made[0].deliver(fromHex(w.live.hex));
    await p;
    s.setFollow(1);
    expect(s.view(clock).followSeat).toBe(1);
    expect(FakeSocket.made.length).toBe(1);
  });

  it("seeks and changes the pace with a new watch request from where it is", async () => {
    const s = spectator({ from: "start", speed: 1 });
    let p = s.connect();
    let ws = FakeSocket.made[0];
    expect(ws.url).toBe("wss://play.example/api/spectator/v1/watch/fixture-1?from=start");
    ws.open();
    ws.deliver(fromHex(w.replay.hex));
    await p;
    for (const b of game.slice(0, 40)) ws.deliver(b);
    const tick = s.world.replica.tick;
    p = s.setSpeed(4);
    expect(ws.messages().pop()).toEqual({ t: "leave" });
    ws = FakeSocket.made[1];
    expect(ws.url).toBe(`wss://play.example/api/spectator/v1/watch/fixture-1?from=${tick}&speed=4`);
    ws.open();
    ws.deliver(fromHex(w.replay.hex));
    await p;
    p = s.seek(10);
    expect(FakeSocket.made[2].url).toBe("wss://play.example/api/spectator/v1/watch/fixture-1?from=10&speed=4");
    FakeSocket.made[2].open();
    FakeSocket.made[2].deliver(fromHex(w.replay.hex));
    await p;
    p = s.goLive(5);
    expect(FakeSocket.made[3].url).toBe("wss://play.example/api/spectator/v1/watch/fixture-1?delay=5");
    FakeSocket.made[3].open();
    FakeSocket.made[3].deliver(fromHex(w.live.hex));
    await p;
  });

  it("reconnects after the relay drains, and after a retryable stream end", async () => {
    const s = spectator({ delay: 5 });
    const p = s.connect();
    const ws = FakeSocket.made[0];
    ws.open();
    ws.deliver(fromHex(w.live.hex));
    await p;
    ws.deliver(fromHex(w.shutdown.hex));
    ws.serverClose(1001, "relay draining");
    vi.advanceTimersByTime(1000);
    expect(FakeSocket.made.length).toBe(2);
    expect(FakeSocket.made[1].url).toBe("wss://play.example/api/spectator/v1/watch/fixture-1?delay=5");
    FakeSocket.made[1].open();
    FakeSocket.made[1].deliver(fromHex(w.live.hex));
    FakeSocket.made[1].deliver(fromHex(w.stream_ended.hex));
    FakeSocket.made[1].serverClose(1011);
    vi.advanceTimersByTime(10000);
    expect(FakeSocket.made.length).toBe(3);
  });

  it("draws far enough behind to cover the relay's bundles", async () => {
    const s = spectator({ delay: 30 });
    const p = s.connect();
    const ws = FakeSocket.made[0];
    ws.open();
    const hello = { ...(w.live.decoded as Record<string, unknown>), delay_s: 30, bundle_s: 0.5 };
    ws.deliver(encode(hello));
    await p;
    expect(s.world.interpolator.delayTicks).toBe(11); // 0.5 s at 20 Hz, plus one
  });

  it("rejects with the relay's error code", async () => {
    const s = spectator();
    const p = s.connect();
    const ws = FakeSocket.made[0];
    ws.open();
    ws.deliver(fromHex("83a174a56572726f72a4636f6465ad756e6b6e6f776e5f6d61746368a36d7367a26e6f"));
    ws.serverClose(1008, "unknown_match");
    const err = await p.catch((e) => e);
    expect(err.code).toBe("unknown_match");
    expect(s.closed!.error).toBe("unknown_match");
  });
});
