/**
 * What a player's client and a spectator's share: the replica, the interpolation of what it
 * shows, the recent hit/death/respawn effects, and the `WorldView` a renderer draws.
 */
import { Interpolator, TickClock, type Motion } from "./interpolation";
import { ANGLE_SCALE, type ArenaMap, type Columns, type Delta, type Events, type GameEvent, type Keyframe } from "./protocol";
import { Replica } from "./replica";
import { ARENA_COLUMNS, EFFECT_MS, arenaMapOf, columnIndex, type ColumnIndex, type EffectKind, type PlayerView, type ProjectileView, type WorldView } from "./view";

interface Effect {
  kind: EffectKind;
  seat: number;
  by?: number;
  dmg?: number;
  x: number;
  y: number;
  at: number;
}

export class MatchWorld {
  readonly replica = new Replica();
  readonly interpolator = new Interpolator(1);
  readonly clock: TickClock;
  match = "";
  mode = "";
  tickHz = 20;
  map: ArenaMap | null = null;
  columns: Columns = ARENA_COLUMNS;
  cols: ColumnIndex = columnIndex(ARENA_COLUMNS);
  private effects: Effect[] = [];
  private now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.now = now;
    this.clock = new TickClock(20);
  }

  /** The static description of a match (a `welcome` or a relay's `watch` hello). */
  describe(d: { match: string; mode: string | null; tick_hz: number | null; map: Record<string, unknown> | null; columns: Columns | null }, speed = 1): void {
    this.match = d.match;
    this.mode = d.mode ?? "";
    this.tickHz = d.tick_hz ?? 20;
    this.map = arenaMapOf(d.map);
    this.columns = d.columns ?? ARENA_COLUMNS;
    this.cols = columnIndex(this.columns);
    this.replica.setColumns(this.columns);
    this.clock.setRate(this.tickHz, speed);
    this.interpolator.clear();
    if (this.map) this.interpolator.snapCm = (3 * this.map.player_speed_cm_s) / this.tickHz;
  }

  /** Applies a state message; returns false for a stale delta. */
  apply(msg: Keyframe | Delta | Events): boolean {
    const ok = this.replica.apply(msg);
    if (!ok) return false;
    if (msg.t === "events") {
      for (const ev of msg.e) this.effect(ev);
      return true;
    }
    if (msg.t === "keyframe") this.interpolator.clear();
    this.clock.observe(this.replica.tick, this.now());
    this.interpolator.push(this.replica.tick, this.motion());
    return true;
  }

  private motion(): Map<number, Motion> {
    const c = this.cols;
    const out = new Map<number, Motion>();
    if (c.x < 0 || c.y < 0) return out;
    for (const [seat, row] of this.replica.players) {
      out.set(seat, { x: row[c.x], y: row[c.y], aim: c.aim >= 0 ? row[c.aim] / ANGLE_SCALE : 0 });
    }
    return out;
  }

  /** A seat's row in the replica, by column name. */
  row(seat: number): Record<string, number> | null {
    const row = this.replica.players.get(seat);
    if (!row) return null;
    const out: Record<string, number> = {};
    this.columns.player.forEach((name, i) => (out[name] = row[i]));
    return out;
  }

  private effect(ev: GameEvent): void {
    const at = this.now();
    const pos = (seat: number) => {
      const row = this.replica.players.get(seat);
      return row && this.cols.x >= 0 ? { x: row[this.cols.x], y: row[this.cols.y] } : null;
    };
    if (ev.k === "hit") {
      const p = pos(ev.to as number);
      if (p) this.effects.push({ kind: "hit", seat: ev.to as number, by: ev.by as number, dmg: ev.dmg as number, ...p, at });
    } else if (ev.k === "death") {
      const p = pos(ev.who as number);
      if (p) this.effects.push({ kind: "death", seat: ev.who as number, by: ev.by as number, ...p, at });
    } else if (ev.k === "respawn") {
      this.effects.push({ kind: "respawn", seat: ev.who as number, x: ev.x as number, y: ev.y as number, at });
    }
    if (this.effects.length > 64) this.effects.splice(0, this.effects.length - 64);
  }

  /**
   * The world at `nowMs`: every seat interpolated, except `self` drawn at `selfPos` when
   * given (the prediction). Projectiles move along their rows to the drawn tick.
   */
  view(nowMs: number, opts: { selfSeat?: number | null; selfPos?: { x: number; y: number } | null; followSeat?: number | null } = {}): WorldView {
    const c = this.cols;
    const rt = this.interpolator.renderTick(this.clock.tickAt(nowMs)) ?? Math.max(0, this.replica.tick);
    const motion = this.interpolator.sample(rt);
    const selfSeat = opts.selfSeat ?? null;
    const players: PlayerView[] = [];
    for (const [seat, row] of this.replica.players) {
      const r = this.replica.roster.get(seat);
      const m = motion.get(seat) ?? { x: row[c.x] ?? 0, y: row[c.y] ?? 0, aim: c.aim >= 0 ? row[c.aim] / ANGLE_SCALE : 0 };
      const self = seat === selfSeat;
      const pos = self && opts.selfPos ? opts.selfPos : m;
      players.push({
        seat,
        id: r ? r[1] : "",
        name: r ? r[2] : `seat ${seat}`,
        team: c.team >= 0 ? row[c.team] : r ? r[3] : 0,
        connected: r ? r[4] : true,
        x: pos.x,
        y: pos.y,
        aim: m.aim,
        hp: c.hp >= 0 ? row[c.hp] : 0,
        alive: c.alive >= 0 ? row[c.alive] === 1 : true,
        score: c.score >= 0 ? row[c.score] : 0,
        kills: c.kills >= 0 ? row[c.kills] : 0,
        deaths: c.deaths >= 0 ? row[c.deaths] : 0,
        self,
      });
    }
    players.sort((a, b) => a.seat - b.seat);
    const projectiles: ProjectileView[] = [];
    if (c.oX >= 0 && c.oVx >= 0) {
      for (const row of this.replica.objects.values()) {
        const age = Math.max(0, rt - (c.oSpawn >= 0 ? row[c.oSpawn] : rt)) / this.tickHz;
        projectiles.push({
          id: row[c.oId], owner: c.oOwner >= 0 ? row[c.oOwner] : -1,
          x: row[c.oX] + row[c.oVx] * age, y: row[c.oY] + row[c.oVy] * age, vx: row[c.oVx], vy: row[c.oVy],
        });
      }
    }
    this.effects = this.effects.filter((e) => nowMs - e.at < EFFECT_MS);
    const effects = this.effects.map(({ at, ...e }) => ({ ...e, ageMs: Math.max(0, nowMs - at) }));
    return {
      match: this.match, mode: this.mode, state: this.replica.state, tick: rt, tickHz: this.tickHz, map: this.map,
      players, projectiles, effects, selfSeat, followSeat: opts.followSeat ?? selfSeat,
    };
  }
}
