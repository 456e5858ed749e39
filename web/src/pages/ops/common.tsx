import { useCallback, useEffect, useRef, useState } from "react";
import { NavLink } from "react-router-dom";
import { ApiError } from "@elysium/sdk";
import { problemText } from "../../components/ErrorAlert";
import { useAppSelector } from "../../store";

export const REFRESH_MS = 5000;

/** The operator's service token (the console renders its sign-in form while there is none). */
export function useServiceToken(): string {
  return useAppSelector((s) => s.session.serviceToken) || "";
}

/**
 * Runs `read` now and every `ms` while `on`; a read still running is not started again. Returns
 * a function that reads at once (the Refresh button).
 */
export function usePoll(read: () => Promise<void>, on: boolean, ms = REFRESH_MS): () => void {
  const latest = useRef(read);
  latest.current = read;
  const busy = useRef(false);
  const run = useCallback(() => {
    if (busy.current) return;
    busy.current = true;
    latest.current().finally(() => {
      busy.current = false;
    });
  }, []);
  useEffect(() => {
    run();
    if (!on) return;
    const timer = setInterval(run, ms);
    return () => clearInterval(timer);
  }, [on, ms, run]);
  return run;
}

/** An error's words for an operator; a refused token says what to do about it. */
export function opsProblem(err: unknown, service?: string): string {
  const text = problemText(err, service);
  if (err instanceof ApiError && (err.status === 401 || (err.status === 403 && err.code !== "admin-disabled"))) {
    return `${text}. The service token may have expired or lack a scope: sign in to the console again with a new one.`;
  }
  return text;
}

export function ago(ms: number | undefined, now = Date.now()): string {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago` : `${Math.floor(s / 3600)} h ago`;
}

export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined) return "—";
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

const SECTIONS: { to: string; label: string }[] = [
  { to: "/ops", label: "Overview" },
  { to: "/ops/servers", label: "Game servers" },
  { to: "/ops/queues", label: "Queues" },
  { to: "/ops/relays", label: "Relays" },
  { to: "/ops/accounts", label: "Accounts" },
  { to: "/ops/audit", label: "Audit" },
];

/** One console page: the sub-navigation, the title, auto-refresh and when it last read. */
export function OpsPage({ title, children, updatedAt, auto, onAuto, onRefresh }: {
  title: string;
  children: React.ReactNode;
  updatedAt?: number;
  auto?: boolean;
  onAuto?: (on: boolean) => void;
  onRefresh?: () => void;
}) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, []);
  return (
    <main id="main" className="ops">
      <nav aria-label="Operator console" className="ops-nav">
        <ul>
          {SECTIONS.map((s) => (
            <li key={s.to}>
              <NavLink to={s.to} end>{s.label}</NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <div className="ops-head">
        <h1>{title}</h1>
        {onRefresh && (
          <div className="ops-refresh">
            <span className="muted" data-testid="ops-updated">Updated {ago(updatedAt)}</span>
            {onAuto && (
              <label className="check">
                <input type="checkbox" checked={!!auto} onChange={(ev) => onAuto(ev.target.checked)} />
                Auto-refresh every {REFRESH_MS / 1000} s
              </label>
            )}
            <button type="button" className="button-secondary" onClick={onRefresh}>Refresh</button>
          </div>
        )}
      </div>
      {children}
    </main>
  );
}

/** A table that scrolls sideways on a narrow screen; focusable so a keyboard can scroll it. */
export function TableWrap({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}
