import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { buyListing, cancelListing } from "../../features/market/commerce";
import { readListing } from "../../features/market/reads";
import { CURRENCY_NAMES, itemName, money, shortId, when } from "../../features/market/format";
import type { Currency, PriceStats } from "../../features/market/types";
import { Alert, MarketNav, Status, useCatalog, useKeyedAction, useLoad, useSignedIn, walletChanged } from "./common";
import { PriceChart } from "./PriceChart";
import "./market.css";

const STATE_NAMES = { open: "On sale", sold: "Sold", cancelled: "Cancelled", expired: "Expired" } as const;

export function ListingPage() {
  const { listingId = "" } = useParams();
  const me = useSignedIn();
  const { catalog } = useCatalog();
  const run = useKeyedAction();
  const listing = useLoad(() => readListing(listingId), [listingId]);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);

  const l = listing.data;
  const name = l ? (l.item_name || itemName(catalog, l.item_type)) : "Listing";
  const mine = !!l && !!me && l.seller === me;

  const buy = async () => {
    if (!l) return;
    setBusy(true);
    setError(null);
    try {
      const sale = await run(`buy:${l.id}`, (key) => buyListing(l.id, key));
      setDone(`Bought ${name}${sale.quantity > 1 ? ` × ${sale.quantity}` : ""} for ${money(sale.price, sale.currency)}. `
        + `You have ${money(sale.balance, sale.currency)} left.`);
      setConfirming(false);
      listing.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const cancel = async () => {
    if (!l) return;
    setBusy(true);
    setError(null);
    try {
      await cancelListing(l.id);
      walletChanged();
      setDone("The listing is cancelled; the items are back in your inventory.");
      listing.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="market">
      <h1>{l ? `${name}${l.quantity > 1 ? ` × ${l.quantity}` : ""}` : "Listing"}</h1>
      <MarketNav />
      <p><Link to="/market">Back to the marketplace</Link></p>
      <Alert error={listing.error} />
      {listing.loading && !l ? <Status>Loading the listing…</Status> : null}
      {listing.data === null ? <p role="alert" className="market-alert">There is no such listing.</p> : null}
      {done ? <Status>{done}</Status> : null}
      <Alert error={error} />
      {l ? (
        <>
          <section className="market-card" aria-labelledby="listing-terms">
            <h2 id="listing-terms">Terms</h2>
            <dl className="market-terms">
              <dt>State</dt><dd data-testid="listing-state">{STATE_NAMES[l.state] ?? l.state}</dd>
              <dt>Rarity</dt><dd>{l.rarity}</dd>
              <dt>Unit price</dt><dd>{money(l.price, l.currency)}</dd>
              <dt>Total</dt><dd data-testid="listing-total">{money(l.total, l.currency)}</dd>
              <dt>Seller</dt>
              <dd>{mine ? "You" : <Link to={`/players/${encodeURIComponent(l.seller)}`}>{l.seller_name || shortId(l.seller)}</Link>}</dd>
              <dt>Listed</dt><dd>{when(l.created_at)}</dd>
              <dt>{l.state === "open" ? "Expires" : "Closed"}</dt>
              <dd>{when(l.state === "open" ? l.expires_at : (l.closed_at ?? l.expires_at))}</dd>
            </dl>
            {catalog[l.item_type]?.description ? <p>{catalog[l.item_type]?.description}</p> : null}
            {l.state === "open" && !mine ? (
              me ? (
                confirming ? (
                  <div className="market-confirm" role="group" aria-label="Confirm the purchase">
                    <p>Buy {name}{l.quantity > 1 ? ` × ${l.quantity}` : ""} for {money(l.total, l.currency)}?</p>
                    <button type="button" onClick={buy} disabled={busy} autoFocus>Confirm purchase</button>
                    <button type="button" className="market-secondary" onClick={() => setConfirming(false)} disabled={busy}>
                      Keep my money
                    </button>
                  </div>
                ) : (
                  <button type="button" onClick={() => { setConfirming(true); setDone(null); }}>
                    Buy for {money(l.total, l.currency)}
                  </button>
                )
              ) : (
                <p><Link to="/login">Sign in</Link> to buy.</p>
              )
            ) : null}
            {l.state === "open" && mine ? (
              <button type="button" onClick={cancel} disabled={busy}>Cancel listing</button>
            ) : null}
          </section>

          <section className="market-card" aria-labelledby="listing-history">
            <h2 id="listing-history">Price history</h2>
            <PriceChart history={l.history} currency={l.currency} />
            <StatsTable stats={l.price_stats} />
          </section>

          <section className="market-card" aria-labelledby="listing-provenance">
            <h2 id="listing-provenance">Provenance</h2>
            {l.provenance.length === 0 ? <p>No record of these items.</p> : (
              <ul className="market-provenance">
                {l.provenance.map((p) => (
                  <li key={p.item}>
                    <strong>Item {shortId(p.item)}</strong>: came into the game by {p.origin || "unknown means"}
                    {p.sales.length === 0 ? "; never sold before." : (
                      <ol>
                        {p.sales.map((s, i) => (
                          <li key={i}>
                            Sold by {shortId(p.previous_owners[i] ?? "?")} for {money(s.price, s.currency)} on {when(s.at)}
                          </li>
                        ))}
                      </ol>
                    )}
                  </li>
                ))}
              </ul>
            )}
          </section>
        </>
      ) : null}
    </main>
  );
}

function StatsTable({ stats }: { stats: Partial<Record<Currency, PriceStats>> }) {
  const rows = (Object.entries(stats) as [Currency, PriceStats | undefined][]).filter(
    ([, s]) => s && (s.last || s["7d"].sales > 0),
  ) as [Currency, PriceStats][];
  if (!rows.length) return <p>No sales of this item type in the last week.</p>;
  const cell = (v: number | null, c: Currency) => (v === null ? "—" : money(v, c));
  return (
    <div className="market-table-wrap" tabIndex={0} role="region" aria-label="Scrollable table">
      <table className="market-table">
        <caption>Unit prices of this item type</caption>
        <thead>
          <tr>
            <th scope="col">Currency</th><th scope="col">Last sale</th>
            <th scope="col">Sales, 24 h</th><th scope="col">Median, 24 h</th>
            <th scope="col">Sales, 7 d</th><th scope="col">Low–high, 7 d</th><th scope="col">Median, 7 d</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([c, s]) => (
            <tr key={c}>
              <th scope="row">{CURRENCY_NAMES[c]}</th>
              <td>{s.last ? `${money(s.last.unit_price, c)}, ${when(s.last.at)}` : "—"}</td>
              <td>{s["24h"].sales}</td><td>{cell(s["24h"].median, c)}</td>
              <td>{s["7d"].sales}</td>
              <td>{s["7d"].min === null ? "—" : `${cell(s["7d"].min, c)} – ${cell(s["7d"].max, c)}`}</td>
              <td>{cell(s["7d"].median, c)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
