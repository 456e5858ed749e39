import { useState } from "react";
import { Route, Routes } from "react-router-dom";
import { useGatewayStatus } from "../../components/Footer";
import { CONSOLE_SCOPES, readToken } from "../../features/ops/opsApi";
import { operatorToken } from "../../features/session/sessionSlice";
import { useAppDispatch } from "../../store";
import { AccountsPage } from "./AccountsPage";
import { AuditPage } from "./AuditPage";
import { OpsPage, useServiceToken } from "./common";
import { QueuesPage } from "./QueuesPage";
import { RelaysPage } from "./RelaysPage";
import { ServersPage } from "./ServersPage";
import "./ops.css";

/** The operator console (`/ops/*`): sign in with a service token, then the sections. */
export function OpsConsole() {
  const token = useServiceToken();
  if (!token) return <OpsSignIn />;
  return (
    <Routes>
      <Route index element={<OpsOverview />} />
      <Route path="servers" element={<ServersPage />} />
      <Route path="queues" element={<QueuesPage />} />
      <Route path="relays" element={<RelaysPage />} />
      <Route path="accounts" element={<AccountsPage />} />
      <Route path="audit" element={<AuditPage />} />
      <Route path="*" element={<OpsPage title="Not found"><p>The console has no page at this address.</p></OpsPage>} />
    </Routes>
  );
}

function OpsSignIn() {
  const dispatch = useAppDispatch();
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = (ev: React.FormEvent) => {
    ev.preventDefault();
    const info = readToken(value);
    if (!info) {
      setError("That is not a service token: paste the whole line elysium commerce admin-token printed.");
      return;
    }
    if (info.expiresAt !== null && info.expiresAt <= Date.now()) {
      setError("That token has expired: make a new one with elysium commerce admin-token.");
      return;
    }
    setError(null);
    dispatch(operatorToken(value.trim()));
  };
  return (
    <main id="main" className="ops ops-signin">
      <h1>Operator console</h1>
      <p>
        Sign in with a service token. Make one on a machine that holds the service key with{" "}
        <code>elysium commerce admin-token</code>; it carries the scopes the console needs on commerce, the
        matchmaker and the game servers.
      </p>
      <form onSubmit={submit} className="narrow" noValidate>
        <div className="field">
          <label htmlFor="ops-token">Service token</label>
          <input id="ops-token" type="password" autoComplete="off" spellCheck={false} value={value}
            aria-invalid={error ? true : undefined} aria-describedby={error ? "ops-token-error" : undefined}
            onChange={(ev) => setValue(ev.target.value)} required />
        </div>
        {error && <p role="alert" id="ops-token-error">{error}</p>}
        <button type="submit">Sign in to the console</button>
      </form>
    </main>
  );
}

function OpsOverview() {
  const dispatch = useAppDispatch();
  const token = useServiceToken();
  const info = readToken(token);
  const { status } = useGatewayStatus();
  const missing = CONSOLE_SCOPES.filter((s) => !info?.scopes.includes(s));
  return (
    <OpsPage title="Operator console">
      <section className="card ops-token" aria-labelledby="ops-token-title">
        <h2 id="ops-token-title">Signed in</h2>
        <dl className="ops-facts">
          <dt>Operator</dt><dd>{info?.subject || "unknown"}</dd>
          <dt>Scopes</dt><dd>{info?.scopes.join(", ") || "none"}</dd>
          <dt>Token expires</dt>
          <dd>{info?.expiresAt ? new Date(info.expiresAt).toLocaleString() : "unknown"}</dd>
        </dl>
        {missing.length > 0 && (
          <p role="alert">This token lacks {missing.join(", ")}: those sections will refuse it.</p>
        )}
        <button type="button" className="button-secondary" onClick={() => dispatch(operatorToken(null))}>
          Sign out of the console
        </button>
      </section>
      <ul className="grid ops-sections">
        <li className="card"><h2>Game servers</h2><p>Rooms, players and their lateness; kick a player.</p></li>
        <li className="card"><h2>Queues</h2><p>Tickets waiting and how long they wait.</p></li>
        <li className="card"><h2>Relays</h2><p>Live matches and their viewers.</p></li>
        <li className="card"><h2>Accounts</h2><p>Find an account; ban, unban, grant currency.</p></li>
        <li className="card"><h2>Audit</h2><p>What the last ledger audit found.</p></li>
        <li className="card">
          <h2>Dashboards</h2>
          {status?.grafana_url ? (
            <p><a href={status.grafana_url} target="_blank" rel="noreferrer">Open the Grafana dashboard</a></p>
          ) : (
            <p className="muted">No Grafana dashboard is configured for this deployment.</p>
          )}
        </li>
      </ul>
    </OpsPage>
  );
}
