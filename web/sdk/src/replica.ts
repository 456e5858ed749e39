/**
 * The client-side replica of a match, rebuilt from keyframes, deltas and events exactly as
 * docs/protocol.md says (a keyframe replaces everything; a delta overwrites motion `p` and
 * status `s` columns, adds and removes objects and players, updates acks; a delta older
 * than the replica is stale and skipped; `events` keep the roster). Players and spectators
 * keep the same replica. Values stay in wire units (cm, mrad, ticks).
 */
import type { Columns, Delta, Events, Keyframe, RosterRow } from "./protocol";

export class Replica {
  tick = -1;
  state = "waiting";
  players = new Map<number, number[]>();
  objects = new Map<number, number[]>();
  roster = new Map<number, RosterRow>();
  acks = new Map<number, number>();
  motion = 3;
  width = 9;

  setColumns(columns: Columns): void {
    this.motion = columns.motion;
    this.width = columns.player.length;
  }

  /** Applies one message; false when it was a stale delta (skipped). */
  apply(msg: Keyframe | Delta | Events): boolean {
    if (msg.t === "keyframe") {
      this.tick = msg.n;
      this.state = msg.state;
      this.players = new Map(msg.players.map((row) => [row[0], row.slice(1)]));
      this.objects = new Map(msg.objects.map((row) => [row[0], row.slice()]));
      this.roster = new Map(msg.roster.map((row) => [row[0], [...row] as RosterRow]));
      this.acks = new Map(msg.a.map(([seat, seq]) => [seat, seq]));
      return true;
    }
    if (msg.t === "delta") {
      if (msg.n < this.tick) return false;
      this.tick = msg.n;
      if (msg.n > 0 && this.state === "waiting") this.state = "running";
      for (const row of msg.p ?? []) {
        const cur = this.row(row[0]);
        for (let i = 1; i < row.length; i++) cur[i - 1] = row[i];
      }
      for (const row of msg.s ?? []) {
        const cur = this.row(row[0]);
        for (let i = 1; i < row.length; i++) cur[this.motion + i - 1] = row[i];
      }
      for (const seat of msg.gone ?? []) this.players.delete(seat);
      for (const row of msg["o+"] ?? []) this.objects.set(row[0], row.slice());
      for (const id of msg["o-"] ?? []) this.objects.delete(id);
      for (const [seat, seq] of msg.a ?? []) this.acks.set(seat, seq);
      return true;
    }
    for (const ev of msg.e) {
      const who = ev.who as number;
      if (ev.k === "join") this.roster.set(who, [who, ev.id as string, ev.name as string, ev.team as number, true]);
      else if (ev.k === "leave") this.roster.delete(who);
      else if ((ev.k === "drop" || ev.k === "back") && this.roster.has(who)) this.roster.get(who)![4] = ev.k === "back";
      else if (ev.k === "start") this.state = "running";
      else if (ev.k === "end") this.state = "finished";
    }
    return true;
  }

  private row(seat: number): number[] {
    let cur = this.players.get(seat);
    if (!cur) {
      cur = new Array(this.width).fill(0);
      this.players.set(seat, cur);
    }
    return cur;
  }
}
