/**
 * The spectator pages' state: the relay's list of live matches and replays
 * (`GET /v1/matches`), and the one watch in progress (live with a delay, or a replay with its
 * position, speed and play/pause), with the scoreboard and the followed player.
 *
 * The world itself (positions, projectiles) is not kept here: it changes every frame and
 * lives in the SDK's spectator client, which the watch page draws from; the store gets the
 * scoreboard and the tick a few times a second.
 */
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";

export interface ListedPlayer {
  seat: number;
  id: string;
  name: string;
  team: number;
  score: number;
}

/** One entry of the relay's list (live and replays share the shape). */
export interface ListedMatch {
  match_id: string;
  mode: string | null;
  state: string | null;
  players: ListedPlayer[];
  /** [team, summed score] pairs. */
  score: [number, number][];
  top_score: number;
  tick: number | null;
  elapsed_s: number;
  viewers: number;
  end_reason: string | null;
  watch: string;
}

export interface ScoreRow {
  seat: number;
  id: string;
  name: string;
  team: number;
  score: number;
  kills: number;
  deaths: number;
  connected: boolean;
}

export type WatchKind = "live" | "replay";
export type WatchStatus = "connecting" | "watching" | "paused" | "ended" | "stream-ended" | "error";

/** Replay speeds the page offers (the relay takes 0.25 to 16). */
export const REPLAY_SPEEDS = [0.5, 1, 2, 4] as const;
/** Delays (s) a live watcher may pick; the relay raises any to the mode's minimum. */
export const WATCH_DELAYS = [0, 5, 10, 30] as const;

export interface WatchState {
  matchId: string;
  kind: WatchKind;
  status: WatchStatus;
  /** From the relay's hello. */
  live: boolean | null;
  mode: string | null;
  roomState: string | null;
  tickHz: number | null;
  /** The delay asked for, and the one the relay applies (raised to the mode's minimum). */
  delayAsked: number;
  delayApplied: number | null;
  minDelay: number | null;
  /** Replays: the first tick the feed holds, the last one known, and where playback is. */
  startTick: number | null;
  endTick: number | null;
  tick: number | null;
  speed: number;
  scoreboard: ScoreRow[];
  /** The seat the camera follows; null is the whole arena. */
  followSeat: number | null;
  endReason: string | null;
  /** Whether reconnecting later may work (a `stream_ended` with `retry`). */
  retry: boolean;
  error: string | null;
}

export interface SpectateState {
  live: ListedMatch[];
  replays: ListedMatch[];
  listStatus: "idle" | "loading" | "ready" | "error";
  listError: string | null;
  watch: WatchState | null;
}

export const initialState: SpectateState = { live: [], replays: [], listStatus: "idle", listError: null, watch: null };

export interface HelloInfo {
  live: boolean;
  mode: string | null;
  state: string | null;
  tick_hz: number | null;
  delay_s: number;
  min_delay_s: number;
  from: number | null;
  speed: number;
  players: ListedPlayer[];
}

const row = (p: ListedPlayer): ScoreRow => ({ ...p, kills: 0, deaths: 0, connected: true });

/** The scoreboard order: score, then fewer deaths, then seat. */
export function rankRows(rows: ScoreRow[]): ScoreRow[] {
  return [...rows].sort((a, b) => b.score - a.score || a.deaths - b.deaths || a.seat - b.seat);
}

/** The end of the seek bar: the last tick known (the list's, the `end` message's, or the furthest seen). */
export function seekMax(w: Pick<WatchState, "startTick" | "endTick" | "tick">): number {
  return Math.max(w.endTick ?? 0, w.tick ?? 0, w.startTick ?? 0);
}

const spectateSlice = createSlice({
  name: "spectate",
  initialState,
  reducers: {
    listLoading(state) {
      if (state.listStatus === "idle") state.listStatus = "loading";
    },
    listLoaded(state, action: PayloadAction<{ live: ListedMatch[]; replays: ListedMatch[] }>) {
      state.live = action.payload.live;
      state.replays = action.payload.replays;
      state.listStatus = "ready";
      state.listError = null;
    },
    listFailed(state, action: PayloadAction<string>) {
      state.listStatus = "error";
      state.listError = action.payload;
    },
    /** A new watch (or a reconnect of the same one: the follow choice and known end are kept). */
    watchStarted(state, action: PayloadAction<{ matchId: string; kind: WatchKind; delay?: number; speed?: number; endTick?: number | null }>) {
      const { matchId, kind, delay = 0, speed = 1, endTick = null } = action.payload;
      const same = state.watch && state.watch.matchId === matchId && state.watch.kind === kind ? state.watch : null;
      state.watch = {
        matchId,
        kind,
        status: "connecting",
        live: same?.live ?? null,
        mode: same?.mode ?? null,
        roomState: same?.roomState ?? null,
        tickHz: same?.tickHz ?? null,
        delayAsked: delay,
        delayApplied: null,
        minDelay: same?.minDelay ?? null,
        startTick: same?.startTick ?? null,
        endTick: endTick ?? same?.endTick ?? null,
        tick: same?.tick ?? null,
        speed,
        scoreboard: same?.scoreboard ?? [],
        followSeat: same?.followSeat ?? null,
        endReason: null,
        retry: false,
        error: null,
      };
    },
    helloReceived(state, action: PayloadAction<HelloInfo>) {
      const w = state.watch;
      if (!w) return;
      const h = action.payload;
      w.status = "watching";
      w.live = h.live;
      w.mode = h.mode;
      w.roomState = h.state;
      w.tickHz = h.tick_hz;
      w.delayApplied = h.delay_s;
      w.minDelay = h.min_delay_s;
      w.speed = h.speed;
      // The first hello of a replay names where the feed starts; a seek's names where it resumes.
      if (h.from !== null && (w.startTick === null || h.from < w.startTick)) w.startTick = h.from;
      if (!w.scoreboard.length) w.scoreboard = rankRows(h.players.map(row));
    },
    /** A few times a second: the tick drawn and the players' scores. */
    progressed(state, action: PayloadAction<{ tick: number; state?: string; scoreboard?: ScoreRow[] }>) {
      const w = state.watch;
      if (!w || w.status === "paused") return;
      w.tick = action.payload.tick;
      if (action.payload.state) w.roomState = action.payload.state;
      if (action.payload.scoreboard) w.scoreboard = rankRows(action.payload.scoreboard);
      if (w.followSeat !== null && !w.scoreboard.some((r) => r.seat === w.followSeat)) w.followSeat = null;
    },
    followChosen(state, action: PayloadAction<number | null>) {
      if (state.watch) state.watch.followSeat = action.payload;
    },
    /** The match is over (`end`): `n` is its last tick. */
    watchEnded(state, action: PayloadAction<{ n: number; reason: string | null; scoreboard?: ScoreRow[] }>) {
      const w = state.watch;
      if (!w) return;
      w.status = "ended";
      w.roomState = "finished";
      w.endReason = action.payload.reason;
      w.endTick = action.payload.n;
      w.tick = action.payload.n;
      if (action.payload.scoreboard?.length) w.scoreboard = rankRows(action.payload.scoreboard);
    },
    /** The feed stopped without an end (`stream_ended`), or the relay drained (`retry`). */
    streamEnded(state, action: PayloadAction<{ reason: string; retry: boolean }>) {
      const w = state.watch;
      if (!w) return;
      w.status = "stream-ended";
      w.endReason = action.payload.reason;
      w.retry = action.payload.retry;
    },
    watchFailed(state, action: PayloadAction<string>) {
      const w = state.watch;
      if (!w) return;
      w.status = "error";
      w.error = action.payload;
    },
    /** A replay paused at its current tick (the stream is closed; playing reopens it there). */
    replayPaused(state) {
      const w = state.watch;
      if (w && w.kind === "replay" && w.status !== "ended") w.status = "paused";
    },
    /** The end tick learnt from the list (for the seek bar). */
    endTickKnown(state, action: PayloadAction<number>) {
      const w = state.watch;
      if (w && (w.endTick === null || action.payload > w.endTick)) w.endTick = action.payload;
    },
    watchStopped(state) {
      state.watch = null;
    },
  },
});

export const {
  listLoading,
  listLoaded,
  listFailed,
  watchStarted,
  helloReceived,
  progressed,
  followChosen,
  watchEnded,
  streamEnded,
  watchFailed,
  replayPaused,
  endTickKnown,
  watchStopped,
} = spectateSlice.actions;

export default spectateSlice.reducer;
