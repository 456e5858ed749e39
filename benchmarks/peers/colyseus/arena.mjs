// The Elysium arena's rules (gameserver/modes/arena.py, arena_world.py, arena_rules.py),
// ported to plain JavaScript for one room. Pure: no I/O, no clocks, no Colyseus.
//
// Every operation follows the Python code in the same order, with the same float64
// arithmetic, so a room given the same spawn points and inputs ends every tick with the
// same quantised state (tests/benchmarks/test_colyseus_peer.py compares them tick by tick).
// Where the port differs, README.md in this directory says so.

export const WIDTH = 64.0; // m
export const HEIGHT = 64.0; // m
export const PLAYER_RADIUS = 0.5; // m
export const PLAYER_SPEED = 6.0; // m/s
export const PROJECTILE_SPEED = 24.0; // m/s
export const PROJECTILE_LIFETIME_S = 1.2;
export const FIRE_COOLDOWN_S = 0.25;
export const DAMAGE = 25;
export const MAX_HEALTH = 100;
export const RESPAWN_DELAY_S = 2.0;
export const POSITION_SCALE = 100; // 1 unit on the wire = 1 cm
export const ANGLE_SCALE = 1000; // 1 unit on the wire = 1 mrad
// Axis-aligned boxes [x0, y0, x1, y1] that block players and projectiles.
export const OBSTACLES = [[14, 14, 20, 20], [44, 14, 50, 20], [14, 44, 20, 50], [44, 44, 50, 50], [29, 29, 35, 35]];
export const SPAWNS = [[6, 6], [58, 6], [6, 58], [58, 58], [32, 6], [32, 58], [6, 32], [58, 32],
  [24, 24], [40, 40], [24, 40], [40, 24]];

const R = PLAYER_RADIUS;
// Obstacles grown by the player radius: a player's centre may not enter these.
const GROWN = OBSTACLES.map(([x0, y0, x1, y1]) => [x0 - R, y0 - R, x1 + R, y1 + R]);
const LOW = R;
const HIGH_X = WIDTH - R;
const HIGH_Y = HEIGHT - R;

/** numpy.rint: round to the nearest integer, halves to even. */
export function rint(v) {
  const r = Math.round(v); // halves towards +infinity
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** A small seeded generator (mulberry32) for spawn points: numpy's PCG64 is not ported. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Seat {
  constructor(index) {
    this.index = index;
    this.present = false;
    this.alive = false;
    this.x = 0.0; // m, float64 like the server's pos array
    this.y = 0.0;
    this.aim = 0.0; // rad
    // The replicated columns in wire units (x_cm, y_cm, aim_mrad, hp, alive, score, kills, deaths, team).
    this.xCm = 0;
    this.yCm = 0;
    this.aimMrad = 0;
    this.hp = 0;
    this.score = 0;
    this.kills = 0;
    this.deaths = 0;
    this.team = 0;
    this.readyAt = 0; // first tick the seat may fire again
    this.respawnAt = 0;
    this.ticksPlayed = 0;
  }
}

/**
 * One arena room. ``spawnOrder`` (tests only) gives the spawn indices to use in turn instead
 * of drawing them.
 */
export class Arena {
  constructor({ seats, tickHz = 20, seed = 0, teams = 0, scoreLimit = 10, timeLimitS = 120, spawnOrder = null }) {
    this.seats = Array.from({ length: seats }, (_, i) => new Seat(i));
    this.tickHz = tickHz;
    this.dt = 1.0 / tickHz;
    this.teams = teams;
    this.scoreLimit = scoreLimit;
    this.tick = 0;
    this.dead = 0; // present players waiting to respawn
    this.nextProjectile = 1;
    this.projectiles = []; // in creation order
    this.cooldownTicks = Math.max(1, Math.round(FIRE_COOLDOWN_S * tickHz));
    this.respawnTicks = Math.max(1, Math.round(RESPAWN_DELAY_S * tickHz));
    this.lifetimeTicks = Math.max(1, Math.round(PROJECTILE_LIFETIME_S * tickHz));
    this.timeLimitTicks = Math.max(1, Math.round(timeLimitS * tickHz));
    this.random = mulberry32(seed);
    this.spawnOrder = spawnOrder ? [...spawnOrder] : null;
  }

  // --- seats ---------------------------------------------------------------------------

  join(index, team) {
    const s = this.seats[index];
    s.present = true;
    s.xCm = s.yCm = s.aimMrad = s.hp = s.score = s.kills = s.deaths = 0;
    s.team = team;
    s.ticksPlayed = 0;
    this._spawn(s);
    s.xCm = rint(s.x * POSITION_SCALE);
    s.yCm = rint(s.y * POSITION_SCALE);
  }

  /** Free a seat; returns the ids of the projectiles it owned, which go with it. */
  leave(index) {
    const s = this.seats[index];
    if (s.present && !s.alive) this.dead -= 1;
    s.present = false;
    s.alive = false;
    const gone = [];
    this.projectiles = this.projectiles.filter((p) => (p.owner === index ? (gone.push(p.id), false) : true));
    return gone;
  }

  _spawn(s) {
    const k = this.spawnOrder && this.spawnOrder.length
      ? this.spawnOrder.shift()
      : Math.floor(this.random() * SPAWNS.length);
    s.x = SPAWNS[k][0];
    s.y = SPAWNS[k][1];
    s.hp = MAX_HEALTH;
    s.alive = true;
    s.readyAt = this.tick;
  }

  // --- one step --------------------------------------------------------------------------

  /**
   * Advance one fixed step. ``inputs`` maps a seat index to [moveX, moveY, aim, fire]
   * (at most one input per seat). Returns {events, added, removed, finished}: the events
   * of the tick, the projectiles born and the ids of those gone, and the end reason or null.
   */
  step(inputs) {
    this.tick += 1;
    const tick = this.tick;
    const events = [];
    const removed = [];
    const seats = this.seats;
    const step = PLAYER_SPEED * this.dt;
    // Inputs: aim is taken from every input; movement and fire only from living players.
    for (const [index, inp] of inputs) {
      const s = seats[index];
      s.aim = inp[2];
      s._mx = s.alive ? inp[0] : 0.0;
      s._my = s.alive ? inp[1] : 0.0;
      s._fire = s.alive && inp[3];
    }
    // Move players: normalise, move, clamp to the map, push out of obstacles.
    for (const s of seats) {
      if (!s.present) continue;
      let mx = 0.0;
      let my = 0.0;
      if (s._mx !== undefined) {
        mx = s._mx;
        my = s._my;
      }
      const length2 = mx * mx + my * my;
      if (length2 > 1.0) {
        const length = Math.sqrt(length2);
        mx /= length;
        my /= length;
      }
      // Clamped to the map; whether a grown box holds the position is decided on these.
      const cx = Math.min(Math.max(s.x + mx * step, LOW), HIGH_X);
      const cy = Math.min(Math.max(s.y + my * step, LOW), HIGH_Y);
      let x = cx;
      let y = cy;
      for (let b = 0; b < GROWN.length; b++) {
        const g = GROWN[b];
        if (!(cx > g[0] && cx < g[2] && cy > g[1] && cy < g[3])) continue;
        // Rare: push out along the shallowest side (ties: left, right, top, bottom).
        const left = x - g[0];
        const right = g[2] - x;
        const top = y - g[1];
        const bottom = g[3] - y;
        const least = Math.min(left, right, top, bottom);
        if (left === least) x = g[0];
        else if (right === least) x = g[2];
        else if (top === least) y = g[1];
        else y = g[3];
      }
      s.x = x;
      s.y = y;
    }
    // Move projectiles; those past their lifetime, off the map or inside an obstacle go.
    const dt = this.dt;
    const kept = [];
    for (const p of this.projectiles) {
      p.px = p.x;
      p.py = p.y;
      p.x += p.vx * dt;
      p.y += p.vy * dt;
      let blocked = false;
      for (const o of OBSTACLES) {
        if (p.x > o[0] && p.x < o[2] && p.y > o[1] && p.y < o[3]) {
          blocked = true;
          break;
        }
      }
      const outside = p.x < 0 || p.y < 0 || p.x > WIDTH || p.y > WIDTH;
      if (p.expire <= tick || outside || blocked) removed.push(p.id);
      else kept.push(p);
    }
    this.projectiles = kept;
    // Fire, in seat order.
    const added = [];
    for (const s of seats) {
      if (!s._fire || s.readyAt > tick) continue;
      const dx = Math.cos(s.aim);
      const dy = Math.sin(s.aim);
      const x = s.x + dx * (PLAYER_RADIUS + 0.25);
      const y = s.y + dy * (PLAYER_RADIUS + 0.25);
      const vx = dx * PROJECTILE_SPEED;
      const vy = dy * PROJECTILE_SPEED;
      const p = {
        id: this.nextProjectile++, owner: s.index, x, y, px: x, py: y, vx, vy, expire: tick + this.lifetimeTicks,
        // The wire row: id, owner, x_cm, y_cm, vx_cm_s, vy_cm_s, spawn_tick.
        xCm: rint(x * POSITION_SCALE), yCm: rint(y * POSITION_SCALE),
        vxCm: rint(vx * POSITION_SCALE), vyCm: rint(vy * POSITION_SCALE), spawnTick: tick,
      };
      s.readyAt = tick + this.cooldownTicks;
      this.projectiles.push(p);
      added.push(p);
    }
    for (const s of seats) s._mx = s._my = s._fire = undefined;
    this._hits(events, removed);
    for (const s of seats) {
      if (s.present) s.ticksPlayed += 1;
      s.xCm = rint(s.x * POSITION_SCALE);
      s.yCm = rint(s.y * POSITION_SCALE);
      s.aimMrad = rint(s.aim * ANGLE_SCALE);
    }
    if (this.dead) this._respawnDue(events);
    // A projectile born and spent in the same tick is in neither list.
    const spentAtBirth = new Set(removed.filter((id) => added.some((p) => p.id === id)));
    return {
      events,
      added: spentAtBirth.size ? added.filter((p) => !spentAtBirth.has(p.id)) : added,
      removed: spentAtBirth.size ? removed.filter((id) => !spentAtBirth.has(id)) : removed,
      finished: this.finished(),
    };
  }

  _hits(events, removed) {
    if (!this.projectiles.length) return;
    const reach = PLAYER_RADIUS + PROJECTILE_SPEED * this.dt;
    const reach2 = reach * reach;
    const r2 = PLAYER_RADIUS ** 2;
    const seats = this.seats;
    // Only players alive after moving, before any hit of this tick, are targets.
    const targets = seats.filter((s) => s.alive);
    if (!targets.length) return;
    const spent = new Set();
    for (const p of this.projectiles) { // in creation order
      let best = null;
      let bestAlong = 0;
      const owner = seats[p.owner];
      for (const s of targets) {
        if (s.index === p.owner || !s.alive) continue;
        if (this.teams && s.team === owner.team) continue;
        // Coarse test: the projectile ended this step within one step's reach of the player.
        const dx = s.x - p.x;
        const dy = s.y - p.y;
        if (!(dx * dx + dy * dy <= reach2)) continue;
        // Swept test: distance from the player to the segment travelled this step.
        const sx = p.x - p.px;
        const sy = p.y - p.py;
        const rx = s.x - p.px;
        const ry = s.y - p.py;
        const segLen2 = sx * sx + sy * sy;
        let t = (rx * sx + ry * sy) / (segLen2 > 0 ? segLen2 : 1.0);
        t = Math.min(Math.max(t, 0.0), 1.0);
        const ex = rx - t * sx;
        const ey = ry - t * sy;
        if (!(ex * ex + ey * ey <= r2)) continue;
        // The first one on its path; equal distances go to the lower seat.
        if (best === null || t < bestAlong || (t === bestAlong && s.index < best.index)) {
          best = s;
          bestAlong = t;
        }
      }
      if (best === null) continue;
      const victim = best;
      spent.add(p.id);
      const hp = Math.max(0, victim.hp - DAMAGE);
      victim.hp = hp;
      events.push({ k: "hit", by: p.owner, to: victim.index, dmg: DAMAGE, hp });
      if (hp === 0) {
        victim.alive = false;
        victim.deaths += 1;
        owner.kills += 1;
        owner.score += 1;
        this.dead += 1;
        victim.respawnAt = this.tick + this.respawnTicks;
        events.push({ k: "death", who: victim.index, by: p.owner });
      }
    }
    if (spent.size) {
      this.projectiles = this.projectiles.filter((p) => !spent.has(p.id));
      for (const id of spent) removed.push(id);
    }
  }

  _respawnDue(events) {
    for (const s of this.seats) {
      if (s.present && !s.alive && s.respawnAt <= this.tick) {
        this._spawn(s);
        this.dead -= 1;
        s.xCm = rint(s.x * POSITION_SCALE);
        s.yCm = rint(s.y * POSITION_SCALE);
        events.push({ k: "respawn", who: s.index, x: s.xCm, y: s.yCm });
      }
    }
  }

  finished() {
    if (this.tick >= this.timeLimitTicks) return "time";
    if (this.teams) {
      const totals = new Array(this.teams).fill(0);
      for (const s of this.seats) if (s.present) totals[s.team] = (totals[s.team] ?? 0) + s.score;
      if (totals.length && Math.max(...totals) >= this.scoreLimit) return "score";
    } else {
      let best = 0;
      for (const s of this.seats) if (s.present && s.score > best) best = s.score;
      if (best >= this.scoreLimit) return "score";
    }
    return null;
  }

  results() {
    return this.seats
      .filter((s) => s.ticksPlayed > 0 || s.present)
      .map((s) => ({ seat: s.index, score: s.score, kills: s.kills, deaths: s.deaths, team: s.team,
        time_played_s: Math.round(s.ticksPlayed * this.dt * 1000) / 1000 }))
      .sort((a, b) => b.score - a.score || a.deaths - b.deaths || a.seat - b.seat);
  }
}
