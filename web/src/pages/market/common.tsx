/** What the market pages share: loading, errors in words, keyed actions, the catalog, sign-in. */
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { useStore } from "react-redux";
import { Link } from "react-router-dom";
import { ApiError, newIdempotencyKey } from "@elysium/sdk";
import { useAppDispatch, useAppSelector, type RootState } from "../../store";
import { actionDone, catalogLoaded, keyIssued } from "../../features/market/marketSlice";
import { readCatalog } from "../../features/market/reads";
import * as navbar from "../../components/Navbar";

/**
 * Tells the navbar that money or items moved, so it reads the wallet again. The shell is renaming
 * its helper (walletChanged → refreshNavbar); either is called, whichever it exports.
 */
export function walletChanged(): void {
  const shell = navbar as { refreshNavbar?: () => void; walletChanged?: () => void };
  (shell.refreshNavbar ?? shell.walletChanged)?.();
}

/** The problem's stable code ("insufficient-funds"): the body's `code`, else the type's last segment. */
export function problemCode(exc: ApiError): string {
  const code = exc.problem.code;
  if (typeof code === "string" && code) return code;
  const t = exc.problem.type || "";
  return t.slice(Math.max(t.lastIndexOf("/"), t.lastIndexOf(":")) + 1);
}

/** An error as a player reads it: the problem's detail, or which service cannot be reached. */
export function errorText(exc: unknown): string {
  if (exc instanceof ApiError) {
    if (exc.status === 0) {
      // "commerce is unreachable", or for a GraphQL read the gateway in front of every service
      const title = (exc.problem.title || "the service is unreachable").replace(/^gateway\b/, "the gateway");
      return title.charAt(0).toUpperCase() + title.slice(1);
    }
    const fields = exc.problem.errors;
    const detail = exc.problem.detail || exc.problem.title || `HTTP ${exc.status}`;
    if (fields && typeof fields === "object" && !Array.isArray(fields) && problemCode(exc) === "invalid-request") {
      const named = Object.entries(fields as Record<string, unknown>).map(([k, v]) => `${k}: ${String(v)}`);
      if (named.length) return `${detail} (${named.join("; ")})`;
    }
    return detail;
  }
  return exc instanceof Error ? exc.message : String(exc);
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (and on `reload`); a late answer to an older call is dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], enabled = true): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(enabled);
  const [tick, setTick] = useState(0);
  const run = useRef(0);
  useEffect(() => {
    if (!enabled) return;
    const mine = ++run.current;
    setLoading(true);
    load().then(
      (d) => { if (mine === run.current) { setData(d); setError(null); setLoading(false); } },
      (e) => { if (mine === run.current) { setError(e); setLoading(false); } },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick, enabled]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/**
 * Runs an action that moves money or items with its Idempotency-Key: the key is made the first
 * time the action is tried and sent again on each retry of the same action, until it succeeds.
 */
export function useKeyedAction() {
  const store = useStore<RootState>();
  const dispatch = useAppDispatch();
  return useCallback(async <T,>(action: string, send: (key: string) => Promise<T>): Promise<T> => {
    let key = store.getState().market.keys[action];
    if (!key) {
      key = newIdempotencyKey();
      dispatch(keyIssued({ action, key }));
    }
    const out = await send(key);
    dispatch(actionDone(action));
    walletChanged();
    return out;
  }, [store, dispatch]);
}

/** The catalog by item type, loaded once per visit. */
export function useCatalog() {
  const catalog = useAppSelector((s) => s.market.catalog);
  const dispatch = useAppDispatch();
  const empty = Object.keys(catalog).length === 0;
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (!empty) return;
    let live = true;
    readCatalog().then((items) => live && dispatch(catalogLoaded(items)), (e) => live && setError(e));
    return () => { live = false; };
  }, [empty, dispatch]);
  return { catalog, error };
}

export function Alert({ error }: { error: unknown }) {
  if (!error) return null;
  return <p role="alert" className="market-alert">{errorText(error)}</p>;
}

export function Status({ children }: { children: ReactNode }) {
  return <p role="status" className="market-status">{children}</p>;
}

/** The page for a visitor who is not signed in. */
export function SignInFirst({ title, what }: { title: string; what: string }) {
  return (
    <main id="main" className="market">
      <h1>{title}</h1>
      <p>
        <Link to="/login">Sign in</Link> or <Link to="/register">register</Link> to {what}.
      </p>
    </main>
  );
}

export function useSignedIn(): string | null {
  return useAppSelector((s) => s.session.accountId);
}

export function MarketNav() {
  return (
    <nav aria-label="Market" className="market-nav">
      <Link to="/market">Marketplace</Link>
      <Link to="/inventory">Inventory</Link>
      <Link to="/trades">Trades</Link>
      <Link to="/wallet">Wallet</Link>
    </nav>
  );
}
