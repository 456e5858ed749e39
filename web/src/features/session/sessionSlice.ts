import { createSlice, type PayloadAction, type ThunkAction, type UnknownAction } from "@reduxjs/toolkit";
import { ApiError } from "@elysium/sdk";
import { api } from "../../api";

/** The signed-in player's own profile, as commerce's `GET /v1/me` answers it. */
export interface Profile {
  account_id: string;
  username: string | null;
  display_name: string;
  avatar_url: string | null;
  region: string | null;
  settings: Record<string, unknown>;
  roles: string[];
  guest: boolean;
  eth_address: string | null;
  created_at: string;
}

export interface SessionState {
  accountId: string | null;
  accessToken: string | null;
  refreshToken: string | null;
  expiresAt: number | null; // ms since the epoch
  serviceToken: string | null; // the operator console's service token
  profile: Profile | null;
}

const STORAGE_KEY = "elysium.session";

const EMPTY: SessionState = {
  accountId: null, accessToken: null, refreshToken: null, expiresAt: null, serviceToken: null, profile: null,
};

/** A stored session (JSON), read leniently: anything unreadable is no session. */
export function parseStored(raw: string | null | undefined): SessionState {
  try {
    const parsed = raw ? JSON.parse(raw) : null;
    return parsed && typeof parsed === "object" ? { ...EMPTY, ...parsed } : { ...EMPTY };
  } catch {
    return { ...EMPTY };
  }
}

function load(): SessionState {
  try {
    return parseStored(globalThis.localStorage?.getItem(STORAGE_KEY));
  } catch {
    return { ...EMPTY };
  }
}

export { STORAGE_KEY };

/** Whether two sessions hold different logins (tokens, account or operator token). */
export function differs(a: SessionState, b: SessionState): boolean {
  return a.accountId !== b.accountId || a.accessToken !== b.accessToken || a.refreshToken !== b.refreshToken
    || a.serviceToken !== b.serviceToken;
}

export interface TokenPair {
  account_id: string;
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

const initial = load();
api.token = initial.accessToken;

const sessionSlice = createSlice({
  name: "session",
  initialState: initial,
  reducers: {
    signedIn(state, action: PayloadAction<TokenPair & { now?: number; profile?: Profile }>) {
      const p = action.payload;
      if (state.accountId !== p.account_id) state.profile = null;
      state.accountId = p.account_id;
      state.accessToken = p.access_token;
      state.refreshToken = p.refresh_token;
      state.expiresAt = (p.now ?? Date.now()) + p.expires_in * 1000;
      if (p.profile && p.profile.account_id === p.account_id) state.profile = p.profile;
    },
    signedOut(state) {
      state.accountId = null;
      state.accessToken = null;
      state.refreshToken = null;
      state.expiresAt = null;
      state.profile = null;
    },
    /** Another tab changed the stored session (a refresh, a sign-in or out): this tab follows it. */
    adopted(_state, action: PayloadAction<SessionState>) {
      return { ...EMPTY, ...action.payload };
    },
    operatorToken(state, action: PayloadAction<string | null>) {
      state.serviceToken = action.payload;
    },
    profileLoaded(state, action: PayloadAction<Profile>) {
      // A profile answered for an earlier login (the player signed out meanwhile) is dropped.
      if (action.payload.account_id === state.accountId) state.profile = action.payload;
    },
  },
});

export const { signedIn, signedOut, adopted, operatorToken, profileLoaded } = sessionSlice.actions;
export default sessionSlice.reducer;

/** Keeps the shared API client's token and the stored session in step with the store. */
export function persistSession(state: SessionState): void {
  api.token = state.accessToken;
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, JSON.stringify(state));
  } catch {
    /* private mode: the session lasts as long as the tab */
  }
}

// --- timing (pure) ---------------------------------------------------------------------------

/**
 * How long to wait before refreshing a token that expires at `expiresAt`: a minute before it
 * expires, or a fifth of the time left when that is shorter, never negative.
 */
export function refreshDelayMs(expiresAt: number, now: number): number {
  const left = expiresAt - now;
  if (left <= 0) return 0;
  return Math.max(0, left - Math.min(60_000, left / 5));
}

// --- thunks ----------------------------------------------------------------------------------

type Thunk<R> = ThunkAction<R, { session: SessionState }, unknown, UnknownAction>;

/** Whether commerce's answer means this login is over (a refresh cannot cure it). */
export function endsLogin(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 401 || err.status === 403);
}

let inFlight: { refreshToken: string; promise: Promise<boolean> } | null = null;

/**
 * Trades the refresh token for a new pair (`POST /v1/sessions/refresh`). Concurrent calls for
 * the same token share one request. Answers true when the session holds a fresh access token;
 * a refusal signs the player out, an unreachable commerce keeps the session for a later try.
 */
export function refreshSession(): Thunk<Promise<boolean>> {
  return (dispatch, getState) => {
    const refreshToken = getState().session.refreshToken;
    if (!refreshToken) return Promise.resolve(false);
    if (inFlight && inFlight.refreshToken === refreshToken) return inFlight.promise;
    // Another tab of this login may have refreshed already (its refresh token is then used up):
    // take its pair instead of presenting ours again, which commerce would take for a stolen copy.
    const stored = load();
    if (stored.accountId === getState().session.accountId && stored.refreshToken && stored.refreshToken !== refreshToken
        && stored.accessToken && (stored.expiresAt ?? 0) > Date.now()) {
      dispatch(adopted(stored));
      return Promise.resolve(true);
    }
    const promise = (async () => {
      try {
        const pair = await api.request<TokenPair>("commerce", "/v1/sessions/refresh", {
          method: "POST", body: { refresh_token: refreshToken }, token: null,
        });
        // Signed out (or in as someone else) while the request was out: keep what is there now.
        if (getState().session.refreshToken !== refreshToken) return getState().session.accessToken !== null;
        dispatch(signedIn(pair));
        return true;
      } catch (err) {
        if (endsLogin(err) && getState().session.refreshToken === refreshToken) dispatch(signedOut());
        return false;
      } finally {
        inFlight = null;
      }
    })();
    inFlight = { refreshToken, promise };
    return promise;
  };
}

/** Reads `GET /v1/me` into the session. */
export function loadProfile(): Thunk<Promise<Profile | null>> {
  return async (dispatch, getState) => {
    if (!getState().session.accessToken) return null;
    const profile = await api.request<Profile>("commerce", "/v1/me");
    dispatch(profileLoaded(profile));
    return profile;
  };
}

/** Keeps a new token pair (from register or login) and loads the profile unless it came with it. */
export function signIn(pair: TokenPair & { profile?: Profile }): Thunk<Promise<void>> {
  return async (dispatch) => {
    dispatch(signedIn(pair));
    if (!pair.profile) await dispatch(loadProfile()).catch(() => null);
  };
}

const DEVICE_KEY = "elysium.device";

/** This browser's device id for guest play: made once at random and kept (it logs in whoever holds it). */
export function deviceId(): string {
  let id: string | null = null;
  try {
    id = globalThis.localStorage?.getItem(DEVICE_KEY) ?? null;
  } catch {
    /* no storage */
  }
  if (!id || !/^[A-Za-z0-9_-]{16,128}$/.test(id)) {
    id = crypto.randomUUID().replace(/-/g, "");
    try {
      globalThis.localStorage?.setItem(DEVICE_KEY, id);
    } catch {
      /* private mode: a new guest each visit */
    }
  }
  return id;
}

/** Signs in as this browser's guest (`POST /v1/auth/device`): the first time makes the guest account. */
export function playAsGuest(): Thunk<Promise<void>> {
  return async (dispatch) => {
    const answer = await api.request<TokenPair & { profile: Profile }>("commerce", "/v1/auth/device", {
      body: { device_id: deviceId() }, token: null,
    });
    await dispatch(signIn(answer));
  };
}

/** Revokes this login at commerce (`POST /v1/sessions/logout`) and forgets it here, whatever commerce says. */
export function signOut(): Thunk<Promise<void>> {
  return async (dispatch, getState) => {
    const refreshToken = getState().session.refreshToken;
    dispatch(signedOut());
    if (!refreshToken) return;
    try {
      await api.request("commerce", "/v1/sessions/logout", { method: "POST", body: { refresh_token: refreshToken }, token: null });
    } catch {
      /* the access token lives out its short lifetime; the refresh token is gone from here */
    }
  };
}
