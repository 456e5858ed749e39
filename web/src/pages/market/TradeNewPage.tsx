import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { offerTrade } from "../../features/market/commerce";
import { buildOffer } from "../../features/market/forms";
import { readTradeBuilder } from "../../features/market/reads";
import { itemName, shortId } from "../../features/market/format";
import { Alert, MarketNav, SignInFirst, Status, useCatalog, useKeyedAction, useLoad, useSignedIn } from "./common";
import "./market.css";

const EXPIRIES = [
  { s: 3600, label: "1 hour" }, { s: 86400, label: "1 day" }, { s: 3 * 86400, label: "3 days" }, { s: 7 * 86400, label: "7 days" },
];
export function TradeNewPage() {
  const me = useSignedIn();
  const [params] = useSearchParams();
  const { catalog } = useCatalog();
  const view = useLoad(() => readTradeBuilder(), [me], !!me);
  const run = useKeyedAction();
  const [receiver, setReceiver] = useState(params.get("to") ?? "");
  const [give, setGive] = useState<string[]>([]);
  const [giveSoft, setGiveSoft] = useState("");
  const [givePremium, setGivePremium] = useState("");
  const [ask, setAsk] = useState("");
  const [askSoft, setAskSoft] = useState("");
  const [askPremium, setAskPremium] = useState("");
  const [expires, setExpires] = useState(86400);
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [sent, setSent] = useState<string | null>(null);
  if (!me) return <SignInFirst title="New trade" what="offer a trade" />;

  const friends = view.data?.friends ?? [];
  const tradeable = (view.data?.items ?? []).filter((i) => i.custody === "in_game" && catalog[i.item_id]?.tradeable !== false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const { offer, problems: p } = buildOffer({ receiver, give, giveSoft, givePremium, ask, askSoft, askPremium, expires }, me);
    setProblems(p);
    if (!offer) return;
    setBusy(true);
    setError(null);
    try {
      const t = await run(`offer:${JSON.stringify(offer)}`, (key) => offerTrade(offer, key));
      setSent(`Trade offered to ${friends.find((f) => f.id === t.receiver_id)?.display_name ?? shortId(t.receiver_id)}; what you give is held in escrow until it closes.`);
      setGive([]); setGiveSoft(""); setGivePremium(""); setAsk(""); setAskSoft(""); setAskPremium("");
      view.reload();
    } catch (err) {
      setError(err);
      setSent(null);
    } finally {
      setBusy(false);
    }
  };
  const invalid = (f: string) => (problems[f] ? { "aria-invalid": true as const, "aria-describedby": `trade-${f}-problem` } : {});
  const problem = (f: string) => (problems[f] ? <span id={`trade-${f}-problem`} className="market-field-problem">{problems[f]}</span> : null);

  return (
    <main id="main" className="market">
      <h1>New trade</h1>
      <MarketNav />
      <p><Link to="/trades">Back to trades</Link></p>
      <Alert error={view.error} />
      {sent ? <Status>{sent} <Link to="/trades">See your trades</Link>.</Status> : null}
      <Alert error={error} />
      <form onSubmit={submit} aria-label="Offer a trade" noValidate>
        <section className="market-card" aria-labelledby="trade-who">
          <h2 id="trade-who">With whom</h2>
          {friends.length ? (
            <div className="market-field">
              <label htmlFor="trade-friend">Friend</label>
              <select id="trade-friend" value={friends.some((f) => f.id === receiver) ? receiver : ""}
                onChange={(e) => setReceiver(e.target.value)}>
                <option value="">Choose a friend…</option>
                {friends.map((f) => <option key={f.id} value={f.id}>{f.display_name}{f.presence ? ` (${f.presence})` : ""}</option>)}
              </select>
            </div>
          ) : <p className="market-muted">No friends yet: enter the other player's id.</p>}
          <div className="market-field">
            <label htmlFor="trade-receiver">Player id</label>
            <input id="trade-receiver" value={receiver} onChange={(e) => setReceiver(e.target.value)} autoComplete="off" {...invalid("receiver")} />
            {problem("receiver")}
          </div>
        </section>

        <section className="market-card" aria-labelledby="trade-give">
          <h2 id="trade-give">You give</h2>
          {tradeable.length === 0 ? <p className="market-muted">No tradeable items in the game.</p> : (
            <fieldset className="market-field" {...invalid("give")}>
              <legend>Your items</legend>
              {tradeable.map((i) => (
                <label key={i.id}>
                  <input type="checkbox" checked={give.includes(i.id)}
                    onChange={(e) => setGive((g) => (e.target.checked ? [...g, i.id] : g.filter((x) => x !== i.id)))} />
                  {" "}{itemName(catalog, i.item_id)} <span className="market-muted">({shortId(i.id)})</span>
                </label>
              ))}
            </fieldset>
          )}
          {problem("give")}
          <div className="market-filters">
            <div className="market-field">
              <label htmlFor="trade-give-soft">Coins you give</label>
              <input id="trade-give-soft" inputMode="numeric" value={giveSoft} onChange={(e) => setGiveSoft(e.target.value)} {...invalid("giveSoft")} />
              {problem("giveSoft")}
            </div>
            <div className="market-field">
              <label htmlFor="trade-give-premium">Gems you give</label>
              <input id="trade-give-premium" inputMode="numeric" value={givePremium} onChange={(e) => setGivePremium(e.target.value)} {...invalid("givePremium")} />
              {problem("givePremium")}
            </div>
          </div>
          {view.data ? (
            <p className="market-muted">You hold {(view.data.wallet.balances.soft ?? 0).toLocaleString("en")} coins and {(view.data.wallet.balances.premium ?? 0).toLocaleString("en")} gems.</p>
          ) : null}
        </section>

        <section className="market-card" aria-labelledby="trade-ask">
          <h2 id="trade-ask">You ask for</h2>
          <div className="market-field">
            <label htmlFor="trade-ask-items">Their item ids (one per line)</label>
            <textarea id="trade-ask-items" rows={3} value={ask} onChange={(e) => setAsk(e.target.value)} {...invalid("ask")} />
            {problem("ask")}
          </div>
          <div className="market-filters">
            <div className="market-field">
              <label htmlFor="trade-ask-soft">Coins you ask for</label>
              <input id="trade-ask-soft" inputMode="numeric" value={askSoft} onChange={(e) => setAskSoft(e.target.value)} {...invalid("askSoft")} />
              {problem("askSoft")}
            </div>
            <div className="market-field">
              <label htmlFor="trade-ask-premium">Gems you ask for</label>
              <input id="trade-ask-premium" inputMode="numeric" value={askPremium} onChange={(e) => setAskPremium(e.target.value)} {...invalid("askPremium")} />
              {problem("askPremium")}
            </div>
            <div className="market-field">
              <label htmlFor="trade-expires">Open for</label>
              <select id="trade-expires" value={expires} onChange={(e) => setExpires(Number(e.target.value))}>
                {EXPIRIES.map((x) => <option key={x.s} value={x.s}>{x.label}</option>)}
              </select>
            </div>
          </div>
        </section>
        <button type="submit" disabled={busy}>Offer trade</button>
      </form>
    </main>
  );
}
