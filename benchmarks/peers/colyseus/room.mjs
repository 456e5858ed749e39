// The arena as a Colyseus room: the rules of arena.mjs, the state in @colyseus/schema
// classes (state.mjs), one fixed step per tick and one state patch after each step.
import { Room } from "@colyseus/core";
import { Arena, DAMAGE, FIRE_COOLDOWN_S, HEIGHT, MAX_HEALTH, OBSTACLES, PLAYER_RADIUS, PLAYER_SPEED,
  POSITION_SCALE, PROJECTILE_LIFETIME_S, PROJECTILE_SPEED, RESPAWN_DELAY_S, SPAWNS, WIDTH } from "./arena.mjs";
import { ArenaState, Player, Projectile } from "./state.mjs";
import { stats } from "./stats.mjs";

const MAX_SEQ = 2 ** 32 - 1;
const MAX_INPUTS_PER_MESSAGE = 16;
const INPUT_QUEUE_MAX = 6; // inputs waiting per seat; older ones are dropped past this
const AIM_MAX = Math.PI + 1e-6;
const LATE_MS = 10;
const LINGER_MS = 3000; // a finished room stays this long before it closes

/** Serial number arithmetic modulo 2**32 (RFC 1982), as docs/protocol.md defines "newer". */
function seqAfter(s, last) {
  if (last < 0) return true;
  const d = (s - last + 2 ** 32) % 2 ** 32;
  return d >= 1 && d <= 2 ** 31 - 1;
}

function integerOption(options, name, fallback, lo, hi) {
  const v = options?.[name] ?? fallback;
  if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`${name} must be an integer from ${lo} to ${hi}`);
  return v;
}

/** One input row [seq, move_x, move_y, aim, fire], or a string saying what is wrong with it. */
function checkInput(row) {
  if (!Array.isArray(row) || row.length !== 5) return "each input must be [seq, move_x, move_y, aim, fire]";
  const [seq, mx, my, aim, fire] = row;
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_SEQ) return `seq must be an integer from 0 to ${MAX_SEQ}`;
  for (const [name, v, lim] of [["move_x", mx, 1.0], ["move_y", my, 1.0], ["aim", aim, AIM_MAX]]) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < -lim || v > lim) return `${name} must be a number from ${-lim} to ${lim}`;
  }
  if (fire !== true && fire !== false && fire !== 0 && fire !== 1) return "fire must be a boolean";
  return null;
}

export class ArenaRoom extends Room {
  onCreate(options) {
    stats.roomsCreated += 1;
    stats.roomsOpen += 1;
    const seats = integerOption(options, "seats", 10, 1, 100);
    this.tickHz = integerOption(options, "tickHz", 20, 1, 60);
    this.minPlayers = integerOption(options, "minPlayers", 2, 1, seats);
    const teams = integerOption(options, "teams", 0, 0, seats);
    const scoreLimit = integerOption(options, "scoreLimit", 10, 1, 1_000_000);
    const timeLimitS = integerOption(options, "timeLimitS", 120, 1, 86_400);
    const seed = integerOption(options, "seed", 0, 0, MAX_SEQ);
    const spawnOrder = Array.isArray(options?.spawnOrder) ? options.spawnOrder : null; // tests
    this.maxClients = seats;
    this.sim = new Arena({ seats, tickHz: this.tickHz, seed, teams, scoreLimit, timeLimitS, spawnOrder });
    this.teams = teams;
    this.queues = Array.from({ length: seats }, () => []);
    this.lastEnqueued = new Array(seats).fill(-1);
    this.lastApplied = new Array(seats).fill(-1);
    this.lastInput = Array.from({ length: seats }, () => [0.0, 0.0, 0.0, false]);
    this.seatOf = new Map(); // client sessionId -> seat
    this.players = new Array(seats).fill(null); // Player schema by seat
    this.running = false;
    this.finishedAt = null;
    this.pendingEvents = [];
    this.state = new ArenaState();
    this.lockstep = options?.lockstep === true; // tests: step once every seated player has sent its input
    // As the Elysium capacity run sets ELYSIUM_MAX_INPUTS_PER_S (lockstep ticks run faster than 20 Hz).
    this.maxMessagesPerSecond = this.lockstep ? Infinity : 100;
    this.onMessage("input", (client, message) => this.onInput(client, message));
    this.onMessage("*", (client, type) => this.refuse(client, "unknown_type", `unknown message type ${String(type)}`));
    if (!this.lockstep) {
      // Colyseus' fixed timestep: a timer every step whose accumulator runs as many steps
      // as are due (at most 5, then it drops the backlog). Each timer callback ticks the
      // room's clock once, so a step that sees a new clock time is the first of a callback,
      // and that callback's lateness is how far past one step after the previous one it began.
      const stepMs = 1000 / this.tickHz;
      let callbackAt = null;
      this.setFixedTimestep(() => {
        const clock = this.clock;
        if (clock.currentTime !== callbackAt) {
          if (callbackAt !== null) {
            stats.callbacks += 1;
            if (clock.deltaTime - stepMs > LATE_MS) stats.lateCallbacks += 1;
          }
          callbackAt = clock.currentTime;
        }
        this.tickOnce();
      }, this.tickHz);
    }
    // One patch per tick, sent by tickOnce right after the step, instead of on a second timer.
    this.patchRate = null;
  }

  onDispose() {
    stats.roomsOpen -= 1;
  }

  refuse(client, code, msg) {
    stats.badMessages += 1;
    client.send("error", { code, msg });
  }

  onJoin(client, options) {
    const seat = this.players.indexOf(null);
    const team = this.teams ? seat % this.teams : 0;
    this.seatOf.set(client.sessionId, seat);
    this.sim.join(seat, team);
    this.queues[seat].length = 0;
    this.lastEnqueued[seat] = this.lastApplied[seat] = -1;
    this.lastInput[seat] = [0.0, 0.0, 0.0, false];
    const p = new Player();
    p.seat = seat;
    p.ack = -1;
    this.players[seat] = p;
    this.mirror(seat);
    this.state.players.set(String(seat), p);
    this.pendingEvents.push({ k: "join", who: seat, id: client.sessionId, name: String(options?.name ?? ""), team });
    client.send("welcome", {
      player: seat, tick_hz: this.tickHz, seats: this.sim.seats.length, teams: this.teams, team,
      map: {
        name: "arena-1", width_cm: WIDTH * POSITION_SCALE, height_cm: HEIGHT * POSITION_SCALE,
        obstacles_cm: OBSTACLES.map((b) => b.map((v) => v * POSITION_SCALE)),
        spawns_cm: SPAWNS.map((b) => b.map((v) => v * POSITION_SCALE)),
        player_radius_cm: PLAYER_RADIUS * POSITION_SCALE, player_speed_cm_s: PLAYER_SPEED * POSITION_SCALE,
        projectile_speed_cm_s: PROJECTILE_SPEED * POSITION_SCALE, projectile_lifetime_ms: PROJECTILE_LIFETIME_S * 1000,
        fire_cooldown_ms: FIRE_COOLDOWN_S * 1000, respawn_delay_ms: RESPAWN_DELAY_S * 1000, max_hp: MAX_HEALTH,
        damage: DAMAGE,
      },
    });
  }

  onLeave(client) {
    const seat = this.seatOf.get(client.sessionId);
    if (seat === undefined) return;
    this.seatOf.delete(client.sessionId);
    for (const id of this.sim.leave(seat)) this.state.projectiles.delete(String(id));
    this.state.players.delete(String(seat));
    this.players[seat] = null;
    this.queues[seat].length = 0;
    this.pendingEvents.push({ k: "leave", who: seat, reason: "left" });
  }

  onInput(client, message) {
    const seat = this.seatOf.get(client.sessionId);
    if (seat === undefined) return;
    if (!Array.isArray(message) || message.length < 1 || message.length > MAX_INPUTS_PER_MESSAGE) {
      return this.refuse(client, "bad_field", `i must be a list of 1 to ${MAX_INPUTS_PER_MESSAGE} inputs`);
    }
    for (const row of message) {
      const problem = checkInput(row);
      if (problem) return this.refuse(client, "bad_field", problem); // nothing of the message is applied
    }
    const queue = this.queues[seat];
    for (const row of message) {
      if (!seqAfter(row[0], this.lastEnqueued[seat])) continue; // a resend of something we have
      if (queue.length === INPUT_QUEUE_MAX) queue.shift(); // the oldest falls out
      queue.push(row);
      this.lastEnqueued[seat] = row[0];
      stats.inputs += 1;
    }
    if (this.lockstep && this.players.every((p, s) => p === null || this.queues[s].length > 0)) this.tickOnce();
  }

  /** Copy a seat's replicated columns into its schema object (only the ones that changed). */
  mirror(seat) {
    const s = this.sim.seats[seat];
    const p = this.players[seat];
    if (p.x !== s.xCm) p.x = s.xCm;
    if (p.y !== s.yCm) p.y = s.yCm;
    if (p.aim !== s.aimMrad) p.aim = s.aimMrad;
    if (p.hp !== s.hp) p.hp = s.hp;
    if (p.alive !== s.alive) p.alive = s.alive;
    if (p.score !== s.score) p.score = s.score;
    if (p.kills !== s.kills) p.kills = s.kills;
    if (p.deaths !== s.deaths) p.deaths = s.deaths;
    if (p.team !== s.team) p.team = s.team;
    if (p.ack !== this.lastApplied[seat]) p.ack = this.lastApplied[seat];
  }

  /** One tick: lifecycle, this tick's inputs, the step, the state, one patch. */
  tickOnce() {
    if (this.finishedAt !== null) {
      if (performance.now() - this.finishedAt >= LINGER_MS) this.disconnect();
      return;
    }
    const sim = this.sim;
    if (!this.running) {
      const seated = this.seatOf.size;
      if (seated >= this.minPlayers) {
        this.running = true;
        this.pendingEvents.push({ k: "start", tick_hz: this.tickHz });
      } else {
        for (const q of this.queues) q.length = 0; // inputs sent while waiting are discarded
        if (this.pendingEvents.length) this.send();
        return;
      }
    }
    const inputs = new Map();
    for (let seat = 0; seat < this.players.length; seat++) {
      if (this.players[seat] === null) continue;
      const queue = this.queues[seat];
      if (queue.length) {
        // The newest waiting input is applied; a shot among the older ones is carried into it.
        let fire = false;
        for (const row of queue) fire = fire || row[4] === true || row[4] === 1;
        const row = queue[queue.length - 1];
        queue.length = 0;
        this.lastApplied[seat] = row[0];
        const inp = [row[1], row[2], row[3], fire];
        this.lastInput[seat] = inp;
        inputs.set(seat, inp);
      } else {
        // None waiting: the last movement and aim again, without firing.
        const last = this.lastInput[seat];
        inputs.set(seat, [last[0], last[1], last[2], false]);
      }
    }
    const out = sim.step(inputs);
    stats.ticks += 1;
    for (let seat = 0; seat < this.players.length; seat++) if (this.players[seat] !== null) this.mirror(seat);
    const projectiles = this.state.projectiles;
    for (const id of out.removed) projectiles.delete(String(id));
    for (const p of out.added) {
      const row = new Projectile();
      row.id = p.id;
      row.owner = p.owner;
      row.x = p.xCm;
      row.y = p.yCm;
      row.vx = p.vxCm;
      row.vy = p.vyCm;
      row.spawnTick = p.spawnTick;
      projectiles.set(String(p.id), row);
    }
    this.state.tick = sim.tick;
    for (const e of out.events) this.pendingEvents.push(e);
    if (out.finished) {
      this.finishedAt = performance.now();
      const bySeat = new Map([...this.seatOf].map(([sid, seat]) => [seat, sid]));
      const results = sim.results().filter((r) => bySeat.has(r.seat))
        .map((r) => ({ player_id: bySeat.get(r.seat), ...r }));
      this.pendingEvents.push({ k: "end", reason: out.finished, results });
    }
    this.send();
  }

  /** The tick's events (after the patch, as Elysium appends them to its delta) and the patch. */
  send() {
    if (this.pendingEvents.length) {
      this.broadcast("events", { n: this.sim.tick, e: this.pendingEvents }, { afterNextPatch: true });
      this.pendingEvents = [];
    }
    this.state.ts = Math.round((performance.timeOrigin + performance.now()) * 1000);
    this.broadcastPatch();
    stats.patches += 1;
  }
}
