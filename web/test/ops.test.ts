import { describe, expect, it } from "vitest";
import reducer, {
  accountModerated, accountsLoaded, actionName, actionSettled, actionStarted, auditLoaded, initialOpsState, loadFailed,
  playerKicked, queuesLoaded, relaysLoaded, roomsLoaded, serversLoaded,
  type AdminAccount, type AdminPlayer, type AdminRoom, type AdminServer, type OpsState,
} from "../src/features/ops/opsSlice";
import { operatorToken } from "../src/features/session/sessionSlice";
import { readToken } from "../src/features/ops/opsApi";

const server = (id: string, extra: Partial<AdminServer> = {}): AdminServer => ({
  server_id: id, http_url: "http://127.0.0.1:7350", ws_url: "ws://127.0.0.1:7350/v1/play", region: "local",
  modes: ["arena"], rooms: 1, players: 2, capacity: 100, draining: false, last_seen: 1000, ...extra,
});
const player = (id: string, seat: number): AdminPlayer => ({
  seat, player_id: id, name: id, team: 0, connected: true, score: 0, dropped_for_s: null, in_match_s: 3,
  last_input_seq: 10, last_applied_seq: 9, inputs_waiting: 1, send_backlog_bytes: 0, slow_for_s: null, rtt_ms: null,
});
const room = (id: string, players: AdminPlayer[]): AdminRoom => ({
  match_id: id, mode: "arena", state: "running", tick: 40, tick_hz: 20, age_s: 2, seats: 4, late_ticks: 0,
  skipped_ticks: 0, players,
});
const account = (id: string, extra: Partial<AdminAccount> = {}): AdminAccount => ({
  account_id: id, username: id, display_name: id.toUpperCase(), guest: false, created_at: "2026-01-01T00:00:00Z",
  banned: null, muted: null, ...extra,
});

describe("ops slice", () => {
  it("keeps the servers sorted and forgets the rooms of servers that left", () => {
    let s = reducer(undefined, serversLoaded({ servers: [server("gs-b"), server("gs-a")], at: 5 }));
    expect(s.servers!.map((x) => x.server_id)).toEqual(["gs-a", "gs-b"]);
    expect(s.updatedAt.servers).toBe(5);
    s = reducer(s, roomsLoaded({ serverId: "gs-b", rooms: [room("m1", [player("p1", 0)])] }));
    s = reducer(s, roomsLoaded({ serverId: "gs-a", rooms: [] }));
    s = reducer(s, serversLoaded({ servers: [server("gs-a")] }));
    expect(Object.keys(s.rooms)).toEqual(["gs-a"]);
  });

  it("a failed read keeps the last good data and says why; the next good read clears it", () => {
    let s = reducer(undefined, queuesLoaded({ queues: [], at: 1 }));
    s = reducer(s, loadFailed({ section: "queues", message: "The matchmaker is unreachable" }));
    expect(s.queues).toEqual([]);
    expect(s.errors.queues).toBe("The matchmaker is unreachable");
    s = reducer(s, queuesLoaded({ queues: [], at: 2 }));
    expect(s.errors.queues).toBeUndefined();
    expect(s.updatedAt.queues).toBe(2);
  });

  it("a kicked player leaves the room at once, other rooms and players stay", () => {
    let s = reducer(undefined, roomsLoaded({
      serverId: "gs-a", rooms: [room("m1", [player("p1", 0), player("p2", 1)]), room("m2", [player("p1", 0)])],
    }));
    s = reducer(s, playerKicked({ serverId: "gs-a", matchId: "m1", playerId: "p1" }));
    expect(s.rooms["gs-a"][0].players.map((p) => p.player_id)).toEqual(["p2"]);
    expect(s.rooms["gs-a"][1].players.map((p) => p.player_id)).toEqual(["p1"]);
    expect(reducer(s, playerKicked({ serverId: "gs-x", matchId: "m1", playerId: "p2" }))).toEqual(s);
  });

  it("relays list the most watched first", () => {
    const m = (id: string, viewers: number) => ({ match_id: id, mode: "arena", state: "running", players: [], tick: 1, elapsed_s: 1, viewers });
    const s = reducer(undefined, relaysLoaded({ live: [m("a", 1), m("b", 5), m("c", 1)] }));
    expect(s.relays!.map((x) => x.match_id)).toEqual(["b", "a", "c"]);
  });

  it("account pages append for the same search and start over for a new one", () => {
    let s = reducer(undefined, accountsLoaded({ query: "zed", accounts: [account("a1")], next: "a1" }));
    s = reducer(s, accountsLoaded({ query: "zed", accounts: [account("a1"), account("a2")], next: null, append: true }));
    expect(s.accounts.items.map((a) => a.account_id)).toEqual(["a1", "a2"]);
    expect(s.accounts.next).toBeNull();
    s = reducer(s, accountsLoaded({ query: "amy", accounts: [account("b1")], next: null, append: true }));
    expect(s.accounts).toEqual({ query: "amy", items: [account("b1")], next: null, searched: true });
  });

  it("a moderation answer updates the account's standing", () => {
    const ban = { until: null, reason: "botting", action_id: "x", by: "op", at: "2026-01-01T00:00:00Z" };
    let s = reducer(undefined, accountsLoaded({ query: "", accounts: [account("a1"), account("a2")], next: null }));
    s = reducer(s, accountModerated({ accountId: "a1", ban, mute: null }));
    expect(s.accounts.items[0].banned).toEqual(ban);
    expect(s.accounts.items[1].banned).toBeNull();
    s = reducer(s, accountModerated({ accountId: "a1", ban: null }));
    expect(s.accounts.items[0].banned).toBeNull();
  });

  it("keeps one Idempotency-Key per action until it settles, so a retry sends the same key", () => {
    const name = actionName("grant", "a1", "soft", 100, "apology");
    let s = reducer(undefined, actionStarted({ name, key: "k1" }));
    s = reducer(s, actionStarted({ name, key: "k2" })); // the retry
    expect(s.pending[name]).toBe("k1");
    const other = actionName("grant", "a1", "soft", 200, "apology");
    s = reducer(s, actionStarted({ name: other, key: "k3" }));
    expect(s.pending[other]).toBe("k3");
    s = reducer(s, actionSettled(name));
    expect(s.pending[name]).toBeUndefined();
    s = reducer(s, actionStarted({ name, key: "k4" }));
    expect(s.pending[name]).toBe("k4");
  });

  it("tells a never-run audit (null) from one not read yet (undefined)", () => {
    expect(reducer(undefined, { type: "none" }).audit).toBeUndefined();
    expect(reducer(undefined, auditLoaded({ audit: null })).audit).toBeNull();
  });

  it("a new operator token starts the console from nothing", () => {
    let s: OpsState = reducer(undefined, serversLoaded({ servers: [server("gs-a")] }));
    s = reducer(s, actionStarted({ name: "x", key: "k" }));
    expect(reducer(s, operatorToken(null))).toEqual(initialOpsState);
  });
});

describe("service tokens", () => {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  it("reads the subject, scopes and expiry of a JWT, and refuses what is not one", () => {
    const token = `${b64({ alg: "EdDSA" })}.${b64({ sub: "ada", scope: "commerce:admin matchmaker:admin", exp: 2000 })}.c2ln`;
    expect(readToken(token)).toEqual({ subject: "ada", scopes: ["commerce:admin", "matchmaker:admin"], expiresAt: 2_000_000 });
    expect(readToken("hello")).toBeNull();
    expect(readToken("a.b.c d")).toBeNull();
    expect(readToken(`${b64({})}.not-json.c2ln`)).toBeNull();
  });
});
