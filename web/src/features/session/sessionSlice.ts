import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import { api } from "../../api";

export interface SessionState {
  accountId: string | null;
  accessToken: string | null;
  refreshToken: string | null;
  expiresAt: number | null; // ms since the epoch
  serviceToken: string | null; // the operator console's service token
}

const STORAGE_KEY = "elysium.session";

function load(): SessionState {
  const empty: SessionState = { accountId: null, accessToken: null, refreshToken: null, expiresAt: null, serviceToken: null };
  try {
    const raw = globalThis.localStorage?.getItem(STORAGE_KEY);
    return raw ? { ...empty, ...JSON.parse(raw) } : empty;
  } catch {
    return empty;
  }
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
    signedIn(state, action: PayloadAction<TokenPair & { now?: number }>) {
      const p = action.payload;
      state.accountId = p.account_id;
      state.accessToken = p.access_token;
      state.refreshToken = p.refresh_token;
      state.expiresAt = (p.now ?? Date.now()) + p.expires_in * 1000;
    },
    signedOut(state) {
      state.accountId = null;
      state.accessToken = null;
      state.refreshToken = null;
      state.expiresAt = null;
    },
    operatorToken(state, action: PayloadAction<string | null>) {
      state.serviceToken = action.payload;
    },
  },
});

export const { signedIn, signedOut, operatorToken } = sessionSlice.actions;
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
