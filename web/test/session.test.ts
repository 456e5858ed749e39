import { describe, expect, it } from "vitest";
import { ApiError } from "@elysium/sdk";
import reducer, {
  adopted, differs, parseStored, profileLoaded, refreshDelayMs, refreshSession, signedIn,
  signedOut, STORAGE_KEY, type Profile,
} from "../src/features/session/sessionSlice";
import { guardRequests, isUnauthorized } from "../src/features/session/guard";
import { makeStore } from "../src/store";

const pair = { account_id: "a1", access_token: "t", refresh_token: "r".repeat(20), expires_in: 60, now: 1000 };
const profile = (id: string): Profile => ({
  account_id: id, username: "ann", display_name: "Ann", avatar_url: null, region: null, settings: {}, roles: [],
  guest: false, eth_address: null, created_at: "2026-01-01T00:00:00+00:00",
});

describe("session", () => {
  it("keeps the token pair and when it expires, and forgets it on sign-out", () => {
    let s = reducer(undefined, signedIn(pair));
    expect(s.accountId).toBe("a1");
    expect(s.expiresAt).toBe(61000);
    s = reducer(s, signedOut());
    expect(s.accessToken).toBeNull();
    expect(s.accountId).toBeNull();
  });

  it("keeps the profile of the signed-in player only", () => {
    let s = reducer(undefined, signedIn(pair));
    s = reducer(s, profileLoaded(profile("someone-else")));
    expect(s.profile).toBeNull();
    s = reducer(s, profileLoaded(profile("a1")));
    expect(s.profile?.display_name).toBe("Ann");
    // A refreshed pair for the same account keeps the profile; another account drops it.
    s = reducer(s, signedIn({ ...pair, access_token: "t2" }));
    expect(s.profile?.display_name).toBe("Ann");
    s = reducer(s, signedIn({ ...pair, account_id: "b2" }));
    expect(s.profile).toBeNull();
    s = reducer(reducer(s, profileLoaded(profile("b2"))), signedOut());
    expect(s.profile).toBeNull();
  });

  it("takes a profile that comes with the token pair", () => {
    const s = reducer(undefined, signedIn({ ...pair, profile: profile("a1") }));
    expect(s.profile?.username).toBe("ann");
  });

  it("refreshes a minute before expiry, sooner for short tokens, at once when expired", () => {
    expect(refreshDelayMs(900_000, 0)).toBe(840_000);
    expect(refreshDelayMs(100_000, 0)).toBe(80_000);
    expect(refreshDelayMs(1000, 5000)).toBe(0);
  });
});

function unauthorized() {
  return new ApiError({ type: "urn:elysium:problem:invalid-token", title: "Unauthorized", status: 401, detail: "expired" });
}

/** A client whose server accepts only the token "good". */
function client() {
  const calls: { path: string; token: string | null }[] = [];
  const c = {
    token: "stale" as string | null,
    async request(_service: string, path: string, opts: { token?: string | null } = {}) {
      const token = opts.token !== undefined ? opts.token : c.token;
      calls.push({ path, token });
      if (token !== "good") throw unauthorized();
      return { ok: path };
    },
  };
  return { c, calls };
}

describe("the 401 guard", () => {
  it("knows a 401 when it sees one", () => {
    expect(isUnauthorized(unauthorized())).toBe(true);
    expect(isUnauthorized(new ApiError({ type: "x", title: "x", status: 403 }))).toBe(false);
    expect(isUnauthorized(new Error("x"))).toBe(false);
  });

  it("refreshes once and retries the request with the new token", async () => {
    const { c, calls } = client();
    let refreshes = 0;
    guardRequests(c as never, async () => {
      refreshes++;
      c.token = "good";
      return true;
    });
    await expect(c.request("commerce", "/v1/me")).resolves.toEqual({ ok: "/v1/me" });
    expect(refreshes).toBe(1);
    expect(calls.map((x) => x.token)).toEqual(["stale", "good"]);
  });

  it("gives the 401 back when the refresh fails", async () => {
    const { c, calls } = client();
    guardRequests(c as never, async () => {
      c.token = null; // the refresh signed the player out
      return false;
    });
    await expect(c.request("commerce", "/v1/me")).rejects.toMatchObject({ status: 401 });
    expect(calls).toHaveLength(1);
  });

  it("leaves requests with their own token and the session routes alone", async () => {
    const { c } = client();
    let refreshes = 0;
    guardRequests(c as never, async () => {
      refreshes++;
      return true;
    });
    await expect(c.request("matchmaker", "/v1/admin/servers", { token: "service" })).rejects.toMatchObject({ status: 401 });
    await expect(c.request("commerce", "/v1/sessions/refresh", {})).rejects.toMatchObject({ status: 401 });
    expect(refreshes).toBe(0);
  });

  it("retries without a refresh when another request already refreshed", async () => {
    const { c } = client();
    let refreshes = 0;
    const original = c.request;
    c.request = async (service, path, opts) => {
      const p = original(service, path, opts);
      c.token = "good"; // a concurrent refresh lands while this request is out
      return p;
    };
    guardRequests(c as never, async () => {
      refreshes++;
      return true;
    });
    await expect(c.request("commerce", "/v1/me")).resolves.toEqual({ ok: "/v1/me" });
    expect(refreshes).toBe(0);
  });

  it("refreshes a GraphQL read whose upstream answered 401, and not one that failed otherwise", async () => {
    const { c } = client();
    const reads: string[] = [];
    const g = Object.assign(c, {
      async graphql(query: string) {
        reads.push(`${query}:${c.token}`);
        const status = query === "broken" ? 404 : c.token === "good" ? 0 : 401;
        if (status) {
          throw new ApiError({ type: "graphql", title: "GraphQL error", status: 200, detail: "x",
                               errors: [{ message: "x", extensions: { code: "e", status } }] });
        }
        return { viewer: { id: "a1" } };
      },
    });
    let refreshes = 0;
    guardRequests(g as never, async () => {
      refreshes++;
      c.token = "good";
      return true;
    });
    await expect(g.graphql("broken")).rejects.toMatchObject({ code: "graphql" });
    expect(refreshes).toBe(0);
    await expect(g.graphql("{ viewer { id } }")).resolves.toEqual({ viewer: { id: "a1" } });
    expect(refreshes).toBe(1);
    expect(reads).toEqual(["broken:stale", "{ viewer { id } }:stale", "{ viewer { id } }:good"]);
  });

  it("undoes itself", async () => {
    const { c } = client();
    const original = c.request;
    const undo = guardRequests(c as never, async () => true);
    expect(c.request).not.toBe(original);
    undo();
    expect(c.request).toBe(original);
  });
});

describe("one login across tabs", () => {
  it("reads a stored session leniently and tells logins apart", () => {
    expect(parseStored("not json").accessToken).toBeNull();
    expect(parseStored(null).accountId).toBeNull();
    expect(parseStored('{"accountId":"a1","accessToken":"t"}')).toMatchObject({ accountId: "a1", accessToken: "t", profile: null });
    const a = reducer(undefined, signedIn(pair));
    expect(differs(a, reducer(a, profileLoaded(profile("a1"))))).toBe(false);
    expect(differs(a, reducer(a, signedIn({ ...pair, refresh_token: "s".repeat(20) })))).toBe(true);
    expect(differs(a, reducer(a, signedOut()))).toBe(true);
  });

  it("adopts what another tab stored", () => {
    const mine = reducer(undefined, signedIn(pair));
    const theirs = reducer(mine, signedIn({ ...pair, access_token: "t2", refresh_token: "s".repeat(20), profile: profile("a1") }));
    expect(reducer(mine, adopted(theirs))).toEqual(theirs);
  });

  it("takes the pair another tab refreshed to instead of presenting a used refresh token", async () => {
    const store = makeStore();
    store.dispatch(signedIn({ ...pair, now: Date.now() }));
    const theirs = reducer(store.getState().session, signedIn({ ...pair, access_token: "t2", refresh_token: "s".repeat(20), now: Date.now() }));
    localStorage.setItem(STORAGE_KEY, JSON.stringify(theirs));
    await expect(store.dispatch(refreshSession())).resolves.toBe(true);
    expect(store.getState().session).toMatchObject({ accessToken: "t2", refreshToken: "s".repeat(20) });
    store.dispatch(signedOut());
  });

  it("keeps the session when commerce cannot be reached to refresh it", async () => {
    const store = makeStore();
    store.dispatch(signedIn({ ...pair, now: Date.now() }));
    await expect(store.dispatch(refreshSession())).resolves.toBe(false);
    expect(store.getState().session.accessToken).toBe("t");
    store.dispatch(signedOut());
  });
});
