// Load client for the Colyseus peer: N rooms of K players, each sending one input per tick.
//
//   node load.mjs --port 2567 --players 1000 --room-size 10 [--workers 2] [--sdk-every 10]
//
// It measures what benchmarks/gameserver_load.py measures against Elysium and prints the
// same JSON: {"phase": "measure-start"} and {"phase": "measure-end"} around the measured
// window (the caller reads the server's CPU at those marks), then one line of results.
//
// One player in --sdk-every is a full @colyseus/sdk client: it decodes every patch into
// its schema replica and measures its input round trip (send to the patch whose ack for
// its seat covers it). The others are raw websocket clients that join through the same
// matchmaking HTTP route, answer the join handshake and read only the patch's "ts" (the
// state's first field, encoded last: the patch's final 14 bytes), so the load process
// stays cheaper than the server, as Elysium's load client does (it decodes fully only on
// one player in ten). --sdk-every 1 makes every player an SDK client.
// --workers W splits the rooms over W processes (each its own event loop).
import { fork } from "node:child_process";
import { parseArgs } from "node:util";
import { Client } from "@colyseus/sdk";
import { Packr } from "msgpackr";
import WebSocket from "ws";

const JOIN_ROOM = 10;
const ROOM_DATA = 13;
const ROOM_STATE = 14;
const ROOM_STATE_PATCH = 15;
const TICK_MS = 50;
const GROUPS = 10;
const SENT_RING = 64;
const INPUT_HEADER = Buffer.from([ROOM_DATA, 0xa0 | 5, ...Buffer.from("input")]);

const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;

/** Latency histogram: buckets 1 % wide, from 1 µs to past 10 s, mergeable across processes. */
class Histogram {
  constructor(counts = null) {
    this.counts = counts ?? new Array(1700).fill(0);
  }
  record(us) {
    const b = Math.min(this.counts.length - 1, Math.floor(Math.log(Math.max(1, us)) / Math.log(1.01)));
    this.counts[b] += 1;
  }
  merge(other) {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
  }
  total() {
    return this.counts.reduce((a, b) => a + b, 0);
  }
  percentileMs(q) {
    const total = this.total();
    if (!total) return null;
    const want = Math.max(1, Math.ceil((q / 100) * total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= want) return Math.round(1.01 ** (i + 1) / 10) / 100; // bucket's upper edge, ms
    }
    return null;
  }
}

class Bench {
  constructor() {
    this.latency = new Histogram();
    this.inputRtt = new Histogram();
    this.bytesIn = 0;
    this.messagesIn = 0;
    this.messagesOut = 0;
    this.deltasIn = 0;
    this.dropped = 0;
    this.tsMissing = 0; // patches whose ts a raw player could not find
    this.measuring = false;
    this.settled = false;
  }
}

function frameHeader(length) {
  return length < 126 ? 2 : length < 65536 ? 4 : 10; // server frames are unmasked
}

async function reserve(port, method, target, options) {
  const res = await fetch(`http://127.0.0.1:${port}/matchmake/${method}/${target}`, {
    method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(options),
  });
  const body = await res.json();
  if (!res.ok || body.error) throw new Error(`matchmake ${method} failed: ${JSON.stringify(body)}`);
  return body;
}

/** A player that reads frames without decoding the state. */
class RawPlayer {
  constructor(bench) {
    this.bench = bench;
    this.seq = 0;
    this.closed = false;
    this.packr = new Packr();
  }

  async join(port, method, target, options) {
    const r = await reserve(port, method, target, options);
    this.roomId = r.roomId;
    await new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/${r.processId}/${r.roomId}?sessionId=${r.sessionId}`);
      ws.binaryType = "nodebuffer";
      this.ws = ws;
      ws.on("message", (data) => {
        const bench = this.bench;
        bench.bytesIn += data.length + frameHeader(data.length);
        bench.messagesIn += 1;
        const code = data[0];
        if (code === ROOM_STATE_PATCH) {
          bench.deltasIn += 1;
          const n = data.length;
          if (!bench.measuring) {
            // not in the window
          } else if (n >= 14 && data[n - 14] === 0x80 && data[n - 5] === 0x81) {
            bench.latency.record(Math.max(1, nowUs() - data.readDoubleLE(n - 13)));
          } else {
            bench.tsMissing += 1; // a patch not laid out as expected: reported, never guessed
          }
        } else if (code === ROOM_STATE) {
          bench.deltasIn += 1;
          resolve();
        } else if (code === JOIN_ROOM) {
          ws.send(Buffer.from([JOIN_ROOM]));
        }
      });
      ws.on("close", () => this.lost(reject));
      ws.on("error", (e) => reject(e));
    });
  }

  lost(reject) {
    if (!this.closed && (this.bench.measuring || this.bench.settled)) this.bench.dropped += 1;
    this.closed = true;
    reject(new Error("closed before joining"));
  }

  sendInput(mx, my, aim, fire) {
    if (this.closed) return;
    this.seq += 1;
    const payload = this.packr.pack([[this.seq, mx, my, aim, fire]]);
    this.ws.send(Buffer.concat([INPUT_HEADER, payload]));
    this.bench.messagesOut += 1;
  }

  close() {
    this.closed = true;
    this.ws?.terminate();
  }
}

/** A full @colyseus/sdk client: decodes every patch and measures its input round trip. */
class SdkPlayer {
  constructor(bench) {
    this.bench = bench;
    this.seq = 0;
    this.closed = false;
    this.seat = -1;
    this.sent = new Array(SENT_RING).fill(0);
  }

  async join(port, method, target, options) {
    const client = new Client(`http://127.0.0.1:${port}`);
    this.room = method === "create" ? await client.create(target, options) : await client.joinById(target, options);
    this.roomId = this.room.roomId;
    const bench = this.bench;
    const connection = this.room.connection;
    const original = connection.events.onmessage;
    connection.events.onmessage = (event) => {
      const length = event.data.byteLength;
      bench.bytesIn += length + frameHeader(length);
      bench.messagesIn += 1;
      original(event);
    };
    this.room.onMessage("welcome", (m) => { this.seat = m.player; });
    this.room.onMessage("events", () => {});
    this.room.onMessage("error", () => {});
    const lost = () => {
      if (!this.closed && (bench.measuring || bench.settled)) bench.dropped += 1;
      this.closed = true;
    };
    this.room.onLeave(lost);
    this.room.onDrop(lost); // the SDK then tries to reconnect; a benchmark player counts as dropped
    await new Promise((resolve) => {
      this.room.onStateChange((state) => {
        bench.deltasIn += 1;
        resolve();
        if (!bench.measuring) return;
        bench.latency.record(Math.max(1, nowUs() - state.ts));
        const me = state.players.get(String(this.seat));
        const seq = me?.ack;
        if (seq > 0 && seq <= this.seq && this.seq - seq < SENT_RING) {
          const at = this.sent[seq % SENT_RING];
          if (at) {
            bench.inputRtt.record(Math.max(1, (performance.now() - at) * 1000));
            this.sent[seq % SENT_RING] = 0; // counted once
          }
        }
      });
    });
  }

  sendInput(mx, my, aim, fire) {
    if (this.closed) return;
    this.seq += 1;
    this.sent[this.seq % SENT_RING] = performance.now();
    this.room.send("input", [[this.seq, mx, my, aim, fire]]);
    this.bench.messagesOut += 1;
  }

  close() {
    this.closed = true;
    this.room?.connection?.close(1000);
  }
}

/** A seeded generator, so every run drives the same inputs. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One process's share: the rooms whose index is in ``rooms``. */
class Worker {
  constructor(args, rooms) {
    this.args = args;
    this.rooms = rooms;
    this.bench = new Bench();
    this.players = [];
    this.stop = false;
  }

  async joinAll() {
    const { args, bench } = this;
    const options = { seats: args.roomSize, minPlayers: 1, scoreLimit: 1000, timeLimitS: 3600 };
    const started = performance.now();
    let joined = 0;
    const pending = [];
    for (const r of this.rooms) {
      const first = r * args.roomSize;
      const count = Math.min(args.roomSize, args.players - first);
      const make = (i) => (i % args.sdkEvery === 0 ? new SdkPlayer(bench) : new RawPlayer(bench));
      const host = make(first);
      this.players.push(host);
      await host.join(args.port, "create", "arena", options);
      for (let k = 1; k < count; k++) {
        const pl = make(first + k);
        this.players.push(pl);
        pending.push(pl.join(args.port, "joinById", host.roomId, {}));
        joined += 1;
        if (joined % 50 === 0) {
          await Promise.all(pending.splice(0));
          await sleep((50 / args.rampPerS) * 1000);
        }
      }
    }
    await Promise.all(pending);
    return (performance.now() - started) / 1000;
  }

  drive() {
    const rng = random(1);
    for (let g = 0; g < GROUPS; g++) {
      const group = this.players.filter((_, i) => i % GROUPS === g);
      const state = group.map(() => [rng() * 2 - 1, rng() * 2 - 1, rng() * 6 - 3]);
      let next = performance.now() + (g * TICK_MS) / GROUPS;
      const beat = () => {
        if (this.stop) return;
        for (let k = 0; k < group.length; k++) {
          if (rng() < 0.05) state[k] = [rng() * 2 - 1, rng() * 2 - 1, rng() * 6 - 3];
          const [mx, my, aim] = state[k];
          group[k].sendInput(mx, my, aim, rng() < 0.2);
        }
        next += TICK_MS;
        setTimeout(beat, Math.max(0, next - performance.now()));
      };
      setTimeout(beat, Math.max(0, next - performance.now()));
    }
  }

  startMeasure() {
    const b = this.bench;
    this.mark = { bytes: b.bytesIn, msgs: b.messagesIn, out: b.messagesOut, deltas: b.deltasIn,
      cpu: process.cpuUsage(), at: performance.now() };
    b.measuring = true;
  }

  endMeasure() {
    const b = this.bench;
    b.measuring = false;
    const m = this.mark;
    const cpu = process.cpuUsage(m.cpu);
    const elapsed = (performance.now() - m.at) / 1000;
    return {
      players: this.players.length,
      connected: this.players.filter((p) => !p.closed).length,
      dropped: b.dropped,
      elapsed,
      bytesIn: b.bytesIn - m.bytes,
      messagesIn: b.messagesIn - m.msgs,
      messagesOut: b.messagesOut - m.out,
      deltasIn: b.deltasIn - m.deltas,
      tsMissing: b.tsMissing,
      cpu: (cpu.user + cpu.system) / 1e6 / elapsed,
      latency: b.latency.counts,
      inputRtt: b.inputRtt.counts,
    };
  }

  close() {
    this.stop = true;
    for (const p of this.players) p.close();
  }
}

function summary(args, parts, rampS) {
  const latency = new Histogram();
  const rtt = new Histogram();
  let elapsed = 0;
  const sum = (k) => parts.reduce((a, p) => a + p[k], 0);
  for (const p of parts) {
    latency.merge(new Histogram(p.latency));
    rtt.merge(new Histogram(p.inputRtt));
    elapsed = Math.max(elapsed, p.elapsed);
  }
  const players = sum("players");
  return {
    server: "colyseus",
    client: args.sdkEvery === 1 ? "sdk" : `raw, 1 in ${args.sdkEvery} sdk`,
    players,
    connected: sum("connected"),
    dropped: sum("dropped"),
    ramp_s: Math.round(rampS * 100) / 100,
    measure_s: Math.round(elapsed * 100) / 100,
    latency_ms: { p50: latency.percentileMs(50), p90: latency.percentileMs(90), p99: latency.percentileMs(99),
      max: latency.percentileMs(100) },
    input_rtt_ms: { p50: rtt.percentileMs(50), p99: rtt.percentileMs(99) },
    input_rtt_samples: rtt.total(),
    latency_samples: latency.total(),
    patches_without_ts: sum("tsMissing"),
    messages_in_per_s: Math.round(sum("messagesIn") / elapsed),
    deltas_per_player_s: Math.round((sum("deltasIn") / elapsed / Math.max(1, players)) * 100) / 100,
    bytes_in_per_s: Math.round(sum("bytesIn") / elapsed),
    messages_out_per_s: Math.round(sum("messagesOut") / elapsed),
    client_cpu: Math.round(sum("cpu") * 1000) / 1000,
    client_cpu_per_process: parts.map((p) => Math.round(p.cpu * 1000) / 1000),
    workers: parts.length,
  };
}

function parse() {
  const { values } = parseArgs({
    options: {
      port: { type: "string" }, players: { type: "string" }, "room-size": { type: "string", default: "10" },
      workers: { type: "string", default: "1" }, "sdk-every": { type: "string", default: "10" },
      "ramp-per-s": { type: "string", default: "1000" }, "settle-s": { type: "string", default: "3" },
      "measure-s": { type: "string", default: "10" }, worker: { type: "string" },
    },
  });
  if (!values.port || !values.players) throw new Error("--port and --players are required");
  return {
    port: Number(values.port), players: Number(values.players), roomSize: Number(values["room-size"]),
    workers: Number(values.workers), sdkEvery: Number(values["sdk-every"]), rampPerS: Number(values["ramp-per-s"]),
    settleS: Number(values["settle-s"]), measureS: Number(values["measure-s"]),
    worker: values.worker === undefined ? null : Number(values.worker),
  };
}

const args = parse();
const roomCount = Math.ceil(args.players / args.roomSize);
const roomsOf = (w) => Array.from({ length: roomCount }, (_, r) => r).filter((r) => r % args.workers === w);

if (args.worker !== null) {
  // A worker process: told what to do by its parent.
  const worker = new Worker(args, roomsOf(args.worker));
  process.on("message", async (msg) => {
    if (msg === "join") {
      try {
        process.send({ joined: await worker.joinAll() });
      } catch (e) {
        process.send({ failed: String(e) });
      }
    } else if (msg === "drive") {
      worker.drive();
    } else if (msg === "settled") {
      worker.bench.settled = true;
    } else if (msg === "measure") {
      worker.startMeasure();
    } else if (msg === "end") {
      process.send({ result: worker.endMeasure() });
      worker.close();
      setTimeout(() => process.exit(0), 100);
    }
  });
} else {
  const children = Array.from({ length: args.workers }, (_, w) => fork(new URL(import.meta.url).pathname,
    [...process.argv.slice(2), "--worker", String(w)], { stdio: ["ignore", "inherit", "inherit", "ipc"] }));
  const ask = (msg, key) => Promise.all(children.map((c) => new Promise((resolve, reject) => {
    c.once("message", (m) => (m.failed ? reject(new Error(m.failed)) : resolve(m[key])));
    c.send(msg);
  })));
  const started = performance.now();
  await ask("join", "joined");
  const rampS = (performance.now() - started) / 1000;
  for (const c of children) c.send("drive");
  await sleep(TICK_MS * 2);
  for (const c of children) c.send("settled");
  await sleep(args.settleS * 1000);
  console.log(JSON.stringify({ phase: "measure-start" }));
  for (const c of children) c.send("measure");
  await sleep(args.measureS * 1000);
  console.log(JSON.stringify({ phase: "measure-end" }));
  const parts = await ask("end", "result");
  console.log(JSON.stringify(summary(args, parts, rampS)));
}
