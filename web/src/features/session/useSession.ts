import { useCallback, useEffect, useState } from "react";
import { api } from "../../api";
import { useStore } from "react-redux";
import { useAppDispatch, useAppSelector, type RootState } from "../../store";
import { guardRequests } from "./guard";
import {
  adopted, differs, loadProfile, parseStored, refreshDelayMs, refreshSession, signIn, signOut, STORAGE_KEY,
  type TokenPair,
} from "./sessionSlice";

/** Who is signed in, and the moves on the session. */
export function useSession() {
  const dispatch = useAppDispatch();
  const session = useAppSelector((s) => s.session);
  return {
    accountId: session.accountId,
    signedIn: session.accessToken !== null,
    profile: session.profile,
    displayName: session.profile?.display_name ?? null,
    isOperator: session.serviceToken !== null,
    signIn: useCallback((pair: Parameters<typeof signIn>[0]) => dispatch(signIn(pair)), [dispatch]),
    signOut: useCallback(() => dispatch(signOut()), [dispatch]),
    refresh: useCallback(() => dispatch(refreshSession()), [dispatch]),
    reloadProfile: useCallback(() => dispatch(loadProfile()), [dispatch]),
  };
}

export type { TokenPair };

const RETRY_MS = 15_000;

/**
 * Mounted once (the navbar): refreshes the access token before it expires, retries a request
 * that met a 401 after one refresh (signing out when that fails), and loads the profile of a
 * session restored from storage.
 */
export function useSessionKeeper(): void {
  const dispatch = useAppDispatch();
  const expiresAt = useAppSelector((s) => s.session.expiresAt);
  const hasProfile = useAppSelector((s) => s.session.profile !== null);
  const signedIn = useAppSelector((s) => s.session.accessToken !== null);

  const appStore = useStore<RootState>();

  useEffect(() => guardRequests(api, () => dispatch(refreshSession())), [dispatch]);

  // Tabs share one login: a refresh, sign-in or sign-out in another tab is followed here.
  useEffect(() => {
    const onStorage = (e: StorageEvent) => {
      if (e.key !== STORAGE_KEY && e.key !== null) return;
      const stored = parseStored(e.key === null ? null : e.newValue);
      if (differs(stored, appStore.getState().session)) dispatch(adopted(stored));
    };
    globalThis.addEventListener("storage", onStorage);
    return () => globalThis.removeEventListener("storage", onStorage);
  }, [dispatch, appStore]);

  // A refresh that could not reach commerce is tried again a little later (a new pair moves expiresAt).
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (expiresAt === null) return;
    const delay = attempt === 0 ? refreshDelayMs(expiresAt, Date.now()) : RETRY_MS;
    const timer = setTimeout(() => {
      void dispatch(refreshSession()).then((ok) => setAttempt(ok ? 0 : (n) => n + 1));
    }, delay);
    return () => clearTimeout(timer);
  }, [dispatch, expiresAt, attempt]);

  useEffect(() => {
    if (signedIn && !hasProfile) void dispatch(loadProfile()).catch(() => null);
  }, [dispatch, signedIn, hasProfile]);
}
