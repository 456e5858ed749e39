import { describe, expect, it } from "vitest";
import reducer, {
  assignmentCleared,
  assignmentOf,
  gameLeft,
  gamesListed,
  gameUpdated,
  initialState,
  isFinal,
  knownRegions,
  queuesFailed,
  queuesLoaded,
  ticketUpdated,
  type GameView,
  type QueueInfo,
  type Ticket,
} from "../src/features/arena/arenaSlice";
import { nominalRegions, NOMINAL_LATENCY_MS } from "../src/features/arena/lobbyApi";
import { ticketStatusText } from "../src/features/arena/text";

const queued = (over: Partial<Ticket> = {}): Ticket => ({
  id: "t1",
  mode: "duel",
  status: "queued",
  game: null,
  players: ["p1"],
  leader: "p1",
  party: null,
  regions: { local: 50 },
  accept_fallback: false,
  created_ms: 1_000,
  expires_ms: 61_000,
  ...over,
});

const matched = (over: Partial<Ticket> = {}): Ticket =>
  queued({
    status: "matched",
    match: {
      match_id: "duel.0123456789abcdef01234567",
      server_id: "gs-1",
      address: "ws://127.0.0.1:7350/v1/play",
      region: "local",
      team: 1,
      roster: [["p1", 1], ["p2", 2]],
      join_token: "jt",
      join_token_expires_ms: 99_000,
    },
    ...over,
  });

const game = (over: Partial<GameView> = {}): GameView => ({
  code: "K7QX2M",
  mode: "duel",
  region: "local",
  public: true,
  password: false,
  seats: 2,
  players: 1,
  host: "p1",
  host_name: "One",
  state: "open",
  options: {},
  ranked: false,
  created_ms: 1,
  expires_ms: 2,
  members: [{ id: "p1", name: "One", since_ms: 1 }],
  ticket: "g1",
  ...over,
});

describe("arena slice", () => {
  it("turns a matched ticket into the game page's assignment, and only a matched one", () => {
    let s = reducer(undefined, ticketUpdated(queued()));
    expect(s.ticket?.status).toBe("queued");
    expect(s.assignment).toBeNull();
    s = reducer(s, ticketUpdated(matched()));
    expect(s.assignment).toEqual({
      matchId: "duel.0123456789abcdef01234567",
      wsUrl: "ws://127.0.0.1:7350/v1/play",
      joinToken: "jt",
      joinTokenExpiresMs: 99_000,
      mode: "duel",
      serverId: "gs-1",
      region: "local",
      team: 1,
      roster: [["p1", 1], ["p2", 2]],
      ticketId: "t1",
      game: null,
    });
    // A ticket that says matched but carries no join token hands nothing over.
    expect(assignmentOf(matched({ match: undefined }))).toBeNull();
    expect(assignmentOf(queued())).toBeNull();
  });

  it("keeps the assignment when a later ticket is cancelled, and clears it when the game page is done", () => {
    let s = reducer(undefined, ticketUpdated(matched()));
    s = reducer(s, assignmentCleared());
    expect(s.assignment).toBeNull();
    expect(s.ticket).toBeNull(); // a final ticket is forgotten with its assignment
    s = reducer(s, ticketUpdated(queued({ id: "t2", created_ms: 5_000 })));
    s = reducer(s, ticketUpdated(queued({ id: "t2", status: "cancelled", reason: "cancelled", created_ms: 5_000 })));
    expect(s.ticket?.status).toBe("cancelled");
    expect(isFinal(s.ticket!)).toBe(true);
    expect(s.assignment).toBeNull();
  });

  it("ignores a late event of an older ticket while a newer one is live", () => {
    let s = reducer(undefined, ticketUpdated(queued({ id: "new", created_ms: 9_000 })));
    s = reducer(s, ticketUpdated(queued({ id: "old", created_ms: 1_000, status: "expired" })));
    expect(s.ticket?.id).toBe("new");
  });

  it("stores queues and their failure, and knows the regions they report (or the local one)", () => {
    expect(knownRegions([])).toEqual(["local"]);
    const modes: QueueInfo[] = [
      { mode: "duel", players_waiting: 3, regions: { eu: 2, us: 1 }, recent_matched_tickets: 4, wait_p50_s: 1.5, wait_p90_s: 3 },
      { mode: "arena", players_waiting: 1, regions: { ap: 1 }, recent_matched_tickets: 0, wait_p50_s: null, wait_p90_s: null },
    ];
    let s = reducer(undefined, queuesLoaded({ modes }));
    expect(s.queuesStatus).toBe("ready");
    expect(knownRegions(s.queues)).toEqual(["ap", "eu", "us"]);
    s = reducer(s, queuesFailed("The matchmaker is unreachable"));
    expect(s.queuesStatus).toBe("error");
    expect(s.queues).toHaveLength(2); // the last good list stays shown
  });

  it("pages the lobby browser without repeating a game", () => {
    const g1 = game({ code: "AAAAAA" });
    const g2 = game({ code: "BBBBBB" });
    let s = reducer(undefined, gamesListed({ items: [g1], next: "c1" }));
    s = reducer(s, gamesListed({ items: [g1, g2], next: null, append: true }));
    expect(s.browse.map((g) => g.code)).toEqual(["AAAAAA", "BBBBBB"]);
    expect(s.browseNext).toBeNull();
    s = reducer(s, gamesListed({ items: [g2], next: null }));
    expect(s.browse.map((g) => g.code)).toEqual(["BBBBBB"]);
  });

  it("forgets the game and its ticket when the player leaves or is removed, with the reason", () => {
    let s = reducer(undefined, gameUpdated(game()));
    s = reducer(s, ticketUpdated(queued({ id: "g1", status: "hosted", game: "K7QX2M" })));
    s = reducer(s, gameLeft("You are no longer in game K7QX2M: the host removed you"));
    expect(s.game).toBeNull();
    expect(s.ticket).toBeNull();
    expect(s.gameNotice).toMatch(/removed/);
    // A fresh game view clears the notice.
    s = reducer(s, gameUpdated(game()));
    expect(s.gameNotice).toBeNull();
  });

  it("hands a started custom game over like a queued match", () => {
    let s = reducer(initialState, gameUpdated(game({ state: "started" })));
    s = reducer(s, ticketUpdated(matched({ id: "g1", game: "K7QX2M" })));
    expect(s.assignment?.game).toBe("K7QX2M");
    expect(s.assignment?.ticketId).toBe("g1");
    s = reducer(s, assignmentCleared());
    expect(s.game).toBeNull();
  });
});

describe("lobby words and requests", () => {
  it("sends every region the same nominal latency", () => {
    expect(nominalRegions(["eu", "local"])).toEqual({ eu: NOMINAL_LATENCY_MS, local: NOMINAL_LATENCY_MS });
  });

  it("says what a ticket is doing", () => {
    expect(ticketStatusText(queued(), 13_400)).toBe("Looking for a match of duel (12 s so far)");
    expect(ticketStatusText(queued({ status: "cancelled", reason: "party_changed" }))).toBe("Ticket cancelled: the party changed");
    expect(ticketStatusText(queued({ status: "expired" }))).toMatch(/expired/);
    expect(ticketStatusText(matched())).toBe("Match found: duel.0123456789abcdef01234567");
  });
});

describe("problem codes", () => {
  it("reads the stable code of the platform's problems", async () => {
    const { ApiError } = await import("@elysium/sdk");
    const { problemCode } = await import("../src/features/arena/lobbyApi");
    expect(problemCode(new ApiError({ type: "urn:elysium:problem:already-in-game", title: "t", status: 409, game: "K7QX2M" }))).toBe("already-in-game");
    expect(problemCode(new ApiError({ type: "https://example.com/problems/game-full", title: "t", status: 409 }))).toBe("game-full");
    expect(problemCode(new ApiError({ type: "x", title: "t", status: 409, code: "game-locked" }))).toBe("game-locked");
    expect(problemCode(new Error("plain"))).toBeNull();
  });
});
