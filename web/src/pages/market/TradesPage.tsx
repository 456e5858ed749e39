import { useState } from "react";
import { Link } from "react-router-dom";
import { moveTrade } from "../../features/market/commerce";
import { readTrades } from "../../features/market/reads";
import { shortId, when } from "../../features/market/format";
import { sideText } from "../../features/market/forms";
import type { CatalogItem, Trade } from "../../features/market/types";
import { Alert, MarketNav, SignInFirst, Status, useCatalog, useKeyedAction, useLoad, useSignedIn } from "./common";
import "./market.css";

type Role = "received" | "sent";
const MOVES = { accept: "accepted", decline: "declined", cancel: "cancelled" } as const;
const STATES = ["open", "accepted", "declined", "cancelled", "expired"];

export function TradesPage() {
  const me = useSignedIn();
  const { catalog } = useCatalog();
  const [role, setRole] = useState<Role>("received");
  const [state, setState] = useState("open");
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1];
  const trades = useLoad(() => readTrades(role, state, cursor), [role, state, cursor, me], !!me);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  if (!me) return <SignInFirst title="Trades" what="trade with other players" />;

  const pick = (r: Role) => { setRole(r); setCursors([null]); };
  const list = trades.data?.trades ?? [];

  return (
    <main id="main" className="market">
      <h1>Trades</h1>
      <MarketNav />
      <p><Link to="/trades/new">Offer a new trade</Link></p>
      <div className="market-tabs" role="group" aria-label="Which trades">
        <button type="button" aria-pressed={role === "received"} onClick={() => pick("received")}>Inbox</button>
        <button type="button" aria-pressed={role === "sent"} onClick={() => pick("sent")}>Sent</button>
      </div>
      <div className="market-field" style={{ maxWidth: "14rem" }}>
        <label htmlFor="trades-state">State</label>
        <select id="trades-state" value={state} onChange={(e) => { setState(e.target.value); setCursors([null]); }}>
          <option value="">Any</option>
          {STATES.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
      </div>
      {notice ? <Status>{notice}</Status> : null}
      <Alert error={error} />
      <Alert error={trades.error} />
      {trades.loading && !trades.data ? <Status>Loading trades…</Status> : null}
      {trades.data && list.length === 0 ? <p>No {state || ""} trades {role === "sent" ? "sent" : "received"}.</p> : null}
      <ul className="market-list" aria-label={role === "sent" ? "Sent trades" : "Received trades"}>
        {list.map((t) => (
          <TradeRow key={t.trade_id} trade={t} me={me} catalog={catalog}
            onMoved={(text) => { setNotice(text); setError(null); trades.reload(); }}
            onError={(e) => { setError(e); setNotice(null); trades.reload(); }} />
        ))}
      </ul>
      <nav aria-label="Trade pages" className="market-pager">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>Previous page</button>
        <button type="button" disabled={!trades.data?.next_cursor}
          onClick={() => trades.data?.next_cursor && setCursors((c) => [...c, trades.data!.next_cursor])}>Next page</button>
      </nav>
    </main>
  );
}

function TradeRow({ trade: t, me, catalog, onMoved, onError }: {
  trade: Trade; me: string; catalog: Record<string, CatalogItem>;
  onMoved: (text: string) => void; onError: (e: unknown) => void;
}) {
  const run = useKeyedAction();
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const mineOffer = t.offerer_id === me;
  const otherId = mineOffer ? t.receiver_id : t.offerer_id;
  const otherName = (mineOffer ? t.receiver_name : t.offerer_name) || shortId(otherId);
  const gives = sideText(t.offer, catalog);
  const asks = sideText(t.request, catalog);

  const move = async (m: keyof typeof MOVES) => {
    setBusy(true);
    try {
      const after = await run(`trade:${t.trade_id}:${m}`, (key) => moveTrade(t.trade_id, m, key));
      onMoved(`Trade with ${otherName} ${after.state === MOVES[m] ? MOVES[m] : `is ${after.state}`}.`);
    } catch (e) {
      onError(e);
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };

  return (
    <li className="market-row" data-testid="trade-row">
      <span className="market-row-title">
        {mineOffer ? "To " : "From "}
        <Link to={`/players/${encodeURIComponent(otherId)}`}>{otherName}</Link>
      </span>
      <span data-testid="trade-state">{t.state}</span>
      <span className="market-muted">{t.state === "open" ? `expires ${when(t.expires_at)}` : when(t.closed_at ?? t.expires_at)}</span>
      <span className="market-muted">
        {mineOffer ? "You give" : `${otherName} gives`} (held in escrow): <strong>{gives}</strong>.{" "}
        {mineOffer ? `${otherName} gives` : "You give"}: <strong>{asks}</strong>.
      </span>
      {t.state === "open" ? (
        <span className="market-actions" style={{ gridColumn: "1 / -1" }}>
          {!mineOffer && !confirming ? (
            <button type="button" onClick={() => setConfirming(true)} disabled={busy}>Accept</button>
          ) : null}
          {!mineOffer && confirming ? (
            <>
              <span>Give {asks} for {gives}?</span>
              <button type="button" onClick={() => move("accept")} disabled={busy} autoFocus>Confirm accept</button>
              <button type="button" className="market-secondary" onClick={() => setConfirming(false)} disabled={busy}>Not now</button>
            </>
          ) : null}
          {!mineOffer ? (
            <button type="button" className="market-danger" onClick={() => move("decline")} disabled={busy}>Decline</button>
          ) : (
            <button type="button" className="market-danger" onClick={() => move("cancel")} disabled={busy}>Cancel trade</button>
          )}
        </span>
      ) : null}
    </li>
  );
}
