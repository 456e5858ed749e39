import { describe, expect, it } from "vitest";
import reducer, {
  endTickKnown,
  followChosen,
  helloReceived,
  listFailed,
  listLoaded,
  progressed,
  rankRows,
  replayPaused,
  seekMax,
  streamEnded,
  watchEnded,
  watchStarted,
  watchStopped,
  type HelloInfo,
  type ScoreRow,
} from "../src/features/spectate/spectateSlice";
import { watchStatusText } from "../src/features/spectate/text";
import { clock, watchWords } from "../src/features/spectate/relayApi";

const hello = (over: Partial<HelloInfo> = {}): HelloInfo => ({
  live: true,
  mode: "arena",
  state: "running",
  tick_hz: 20,
  delay_s: 5,
  min_delay_s: 0,
  from: null,
  speed: 1,
  players: [
    { seat: 0, id: "a", name: "Ann", team: 0, score: 1 },
    { seat: 1, id: "b", name: "Bob", team: 0, score: 4 },
  ],
  ...over,
});

const score = (seat: number, s: number, deaths = 0): ScoreRow => ({
  seat, id: `p${seat}`, name: `P${seat}`, team: 0, score: s, kills: s, deaths, connected: true,
});

describe("spectate slice", () => {
  it("keeps the relay's list and its failure", () => {
    const m = { match_id: "m1", mode: "arena", state: "running", players: [], score: [], top_score: 0, tick: 40, elapsed_s: 2, viewers: 1, end_reason: null, watch: "/v1/watch/m1" };
    let s = reducer(undefined, listLoaded({ live: [m], replays: [] }));
    expect(s.listStatus).toBe("ready");
    s = reducer(s, listFailed("The spectator relay is unreachable"));
    expect(s.listStatus).toBe("error");
    expect(s.live).toHaveLength(1);
  });

  it("shows a live watch with the delay the relay applied, best score first", () => {
    let s = reducer(undefined, watchStarted({ matchId: "m1", kind: "live", delay: 3 }));
    expect(s.watch?.status).toBe("connecting");
    s = reducer(s, helloReceived(hello()));
    expect(s.watch?.delayAsked).toBe(3);
    expect(s.watch?.delayApplied).toBe(5);
    expect(s.watch?.scoreboard.map((r) => r.name)).toEqual(["Bob", "Ann"]);
    expect(watchStatusText(s.watch!)).toBe("Live, 5 s behind");
  });

  it("keeps the followed player across a reconnect and drops one who left", () => {
    let s = reducer(undefined, watchStarted({ matchId: "m1", kind: "live" }));
    s = reducer(s, helloReceived(hello()));
    s = reducer(s, progressed({ tick: 10, scoreboard: [score(0, 1), score(1, 2)] }));
    s = reducer(s, followChosen(1));
    s = reducer(s, watchStarted({ matchId: "m1", kind: "live", delay: 10 }));
    expect(s.watch?.followSeat).toBe(1);
    s = reducer(s, progressed({ tick: 11, scoreboard: [score(0, 1)] }));
    expect(s.watch?.followSeat).toBeNull();
    // Another match starts clean.
    s = reducer(s, followChosen(0));
    s = reducer(s, watchStarted({ matchId: "m2", kind: "live" }));
    expect(s.watch?.followSeat).toBeNull();
    expect(s.watch?.scoreboard).toEqual([]);
  });

  it("tracks a replay's span for the seek bar, pauses, and stops at the end", () => {
    let s = reducer(undefined, watchStarted({ matchId: "m1", kind: "replay", speed: 2 }));
    s = reducer(s, helloReceived(hello({ live: false, from: 120, speed: 2 })));
    expect(s.watch?.startTick).toBe(120);
    s = reducer(s, endTickKnown(900));
    s = reducer(s, progressed({ tick: 300 }));
    expect(seekMax(s.watch!)).toBe(900);
    expect(watchStatusText(s.watch!)).toBe("Replay at 2×");
    s = reducer(s, replayPaused());
    expect(s.watch?.status).toBe("paused");
    s = reducer(s, progressed({ tick: 999 })); // late frames of the closed watch move nothing
    expect(s.watch?.tick).toBe(300);
    // A seek reopens the same replay: its span is kept, a later keyframe does not move the start.
    s = reducer(s, watchStarted({ matchId: "m1", kind: "replay", speed: 2 }));
    s = reducer(s, helloReceived(hello({ live: false, from: 400, speed: 2 })));
    expect(s.watch?.startTick).toBe(120);
    expect(s.watch?.endTick).toBe(900);
    s = reducer(s, watchEnded({ n: 950, reason: "time" }));
    expect(s.watch?.status).toBe("ended");
    expect(seekMax(s.watch!)).toBe(950);
    expect(watchStatusText(s.watch!)).toBe("The match is over: time ran out");
    s = reducer(s, replayPaused());
    expect(s.watch?.status).toBe("ended");
  });

  it("says why a stream ended and forgets the watch when the page goes", () => {
    let s = reducer(undefined, watchStarted({ matchId: "m1", kind: "live" }));
    s = reducer(s, streamEnded({ reason: watchWords("feed_stalled"), retry: false }));
    expect(watchStatusText(s.watch!)).toBe("The stream ended: The match stopped sending (its game server is gone)");
    s = reducer(s, watchStopped());
    expect(s.watch).toBeNull();
  });

  it("ranks by score, then fewer deaths, then seat", () => {
    expect(rankRows([score(2, 3, 1), score(0, 3, 2), score(1, 5)]).map((r) => r.seat)).toEqual([1, 2, 0]);
    expect(clock(65)).toBe("1:05");
  });
});
