// Scripted scenarios against a running peer server, for the fidelity test
// (tests/benchmarks/test_colyseus_peer.py). Reads one JSON object on stdin, prints one
// JSON object on stdout.
//
// {"mode": "lockstep", "port", "seats", "spawnOrder", "inputs": [[[mx, my, aim, fire] per seat] per tick],
//  "scoreLimit"?, "timeLimitS"?}
//   A room that steps once every seated player has sent its input for the tick. Each SDK
//   client sends its row of each tick (seq = tick number) and waits for the patch of that
//   tick, until the inputs run out or the match ends. Answers {"ticks": [{"n", "players": [[seat, x, y, aim, hp, alive, score, kills,
//   deaths, team, ack]], "objects": [[id, owner, x, y, vx, vy, spawn_tick]]}], "events": {n: [event]}}.
//
// {"mode": "realtime", "port", "seconds"}
//   Two SDK clients in a room on Colyseus' own fixed timestep. Client 0 first sends bad
//   inputs (answered with errors, nothing applied), then moves right; client 1 idles.
//   Answers {"seat", "errors", "acksAfterBad", "before", "after", "patches", "ticks",
//   "elapsed_s", "ts_span_s" (between the first and last patch counted), "seqSent"}.
import { Client } from "@colyseus/sdk";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString());
}

function rows(state) {
  const players = [...state.players.values()].map((p) => [p.seat, p.x, p.y, p.aim, p.hp, p.alive ? 1 : 0,
    p.score, p.kills, p.deaths, p.team, p.ack]).sort((a, b) => a[0] - b[0]);
  const objects = [...state.projectiles.values()].map((o) => [o.id, o.owner, o.x, o.y, o.vx, o.vy, o.spawnTick])
    .sort((a, b) => a[0] - b[0]);
  return { n: state.tick, players, objects };
}

/** Join ``count`` SDK clients to one new room, each with its seat, events and errors recorded. */
async function joinRoom(port, count, options) {
  const client = new Client(`http://127.0.0.1:${port}`);
  const watch = (room) => {
    room.seat = -1;
    room.events = {};
    room.errors = [];
    room.onMessage("welcome", (m) => { room.seat = m.player; });
    room.onMessage("events", (m) => {
      (room.events[m.n] ??= []).push(...m.e);
      if (m.e.some((e) => e.k === "end")) room.ended?.();
    });
    room.onMessage("error", (m) => room.errors.push(m));
    return room;
  };
  const rooms = [watch(await client.create("arena", options))];
  for (let i = 1; i < count; i++) rooms.push(watch(await client.joinById(rooms[0].roomId, {})));
  return rooms;
}

async function lockstep(spec) {
  const rooms = await joinRoom(spec.port, spec.seats, {
    seats: spec.seats, minPlayers: spec.seats, scoreLimit: spec.scoreLimit ?? 1000, timeLimitS: spec.timeLimitS ?? 3600,
    lockstep: true, spawnOrder: spec.spawnOrder,
  });
  let ended = false;
  rooms[0].ended = () => {
    ended = true;
    waiting?.resolve();
  };
  const ticks = [];
  let waiting = null;
  rooms[0].onStateChange((state) => {
    if (waiting && state.tick >= waiting.n && !ended) {
      ticks.push(rows(state));
      const w = waiting;
      waiting = null;
      w.resolve();
    }
  });
  await sleep(100); // the full state and the welcomes
  for (let t = 0; t < spec.inputs.length && !ended; t++) {
    const done = new Promise((resolve) => { waiting = { n: t + 1, resolve }; });
    spec.inputs[t].forEach((inp, seat) => rooms[seat].send("input", [[t + 1, ...inp]]));
    await Promise.race([done, sleep(5000).then(() => {
      throw new Error(`no patch for tick ${t + 1}; errors: ${JSON.stringify(rooms.map((r) => r.errors))}`);
    })]);
  }
  await sleep(200); // the last events
  for (const r of rooms) r.connection.close(1000);
  return { ticks, events: rooms[0].events, errors: rooms.flatMap((r) => r.errors) };
}

async function realtime(spec) {
  const rooms = await joinRoom(spec.port, 2, { seats: 2, minPlayers: 2, scoreLimit: 1000, timeLimitS: 3600 });
  const [a, b] = rooms;
  let patches = 0;
  let latest = null;
  a.onStateChange((state) => { patches += 1; latest = state; });
  await sleep(300);
  // Out of range, a short row, NaN, no rows, not a list, an unknown message type.
  a.send("input", [[1, 5.0, 0.0, 0.0, true]]);
  a.send("input", [[1, 1.0, 0.0, 0.0]]);
  a.send("input", [[1, NaN, 0.0, 0.0, false]]);
  a.send("input", []);
  a.send("input", "right");
  a.send("teleport", { x: 0, y: 0 });
  await sleep(300);
  const seat = a.seat;
  const errors = a.errors;
  const before = rows(latest).players.find((p) => p[0] === seat);
  const first = { n: latest.tick, ts: latest.ts };
  const startPatches = patches;
  const started = performance.now();
  let seq = 0;
  while (performance.now() - started < spec.seconds * 1000) {
    seq += 1;
    a.send("input", [[seq, 1.0, 0.0, 0.0, false]]);
    await sleep(50);
  }
  const elapsed = (performance.now() - started) / 1000;
  await sleep(300); // the patches acknowledging the last inputs
  const after = rows(latest).players.find((p) => p[0] === seat);
  const out = { seat, errors, acksAfterBad: before[10], before, after, patches: patches - startPatches,
    ticks: latest.tick - first.n, elapsed_s: elapsed, ts_span_s: (latest.ts - first.ts) / 1e6, seqSent: seq };
  for (const r of rooms) r.connection.close(1000);
  return out;
}

const spec = await readStdin();
const result = spec.mode === "lockstep" ? await lockstep(spec) : await realtime(spec);
console.log(JSON.stringify(result));
process.exit(0);
