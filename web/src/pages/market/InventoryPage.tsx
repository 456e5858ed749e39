import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { buyFromStore, cancelListing, createListing, getWithdrawal, withdrawItem, type NewListing } from "../../features/market/commerce";
import { readInventory, readListings } from "../../features/market/reads";
import { CUSTODY_NAMES, balancesText, itemName, money, when } from "../../features/market/format";
import { CURRENCIES, type CatalogItem, type Currency } from "../../features/market/types";
import { groupItems, type Lot } from "../../features/market/forms";
import { Alert, MarketNav, SignInFirst, Status, useCatalog, useKeyedAction, useLoad, useSignedIn, walletChanged } from "./common";
import "./market.css";

const PAGE = 50;

export function InventoryPage() {
  const me = useSignedIn();
  const { catalog, error: catalogError } = useCatalog();
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const after = pages[pages.length - 1];
  const inv = useLoad(() => readInventory(PAGE, after), [after, me], !!me);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  if (!me) return <SignInFirst title="Inventory" what="see your items" />;

  const items = inv.data?.items ?? [];
  const lots = groupItems(items, catalog);
  const linked = inv.data?.profile.eth_address ?? null;
  const said = (text: string) => { setNotice(text); setError(null); inv.reload(); };
  const failed = (e: unknown) => { setError(e); setNotice(null); };

  return (
    <main id="main" className="market">
      <h1>Inventory</h1>
      <MarketNav />
      <Alert error={inv.error} />
      <Alert error={catalogError} />
      {inv.data ? (
        <p className="market-balances" data-testid="balances">
          <span>Coins: <strong>{(inv.data.wallet.balances.soft ?? 0).toLocaleString("en")}</strong></span>
          <span>Gems: <strong>{(inv.data.wallet.balances.premium ?? 0).toLocaleString("en")}</strong></span>
        </p>
      ) : null}
      {notice ? <Status>{notice}</Status> : null}
      <Alert error={error} />

      <section className="market-card" aria-labelledby="inventory-items">
        <h2 id="inventory-items">My items</h2>
        {inv.loading && !inv.data ? <Status>Loading your items…</Status> : null}
        {inv.data && items.length === 0 ? <p>No items on this page. Buy some from the store below.</p> : null}
        <p className="market-muted">
          {linked ? <>Withdrawals go to your linked wallet <span className="market-code">{linked}</span>.</>
            : <>Link a wallet on the <Link to="/wallet">wallet page</Link> to withdraw items to the chain.</>}
        </p>
        <ul className="market-grid" aria-label="My items">
          {lots.map((lot) => (
            <LotTile key={lot.key} lot={lot} catalog={catalog} linked={linked} onDone={said} onError={failed} />
          ))}
        </ul>
        <nav aria-label="Item pages" className="market-pager">
          <button type="button" disabled={pages.length === 1} onClick={() => setPages((p) => p.slice(0, -1))}>Previous page</button>
          <button type="button" disabled={items.length < PAGE}
            onClick={() => setPages((p) => [...p, items[items.length - 1].id])}>Next page</button>
        </nav>
      </section>

      <MyListings me={me} catalog={catalog} refresh={inv.data} onDone={said} onError={failed} />
      <Store catalog={catalog} onDone={said} onError={failed} />
    </main>
  );
}

function LotTile({ lot, catalog, linked, onDone, onError }: {
  lot: Lot; catalog: Record<string, CatalogItem>; linked: string | null;
  onDone: (text: string) => void; onError: (e: unknown) => void;
}) {
  const run = useKeyedAction();
  const type = catalog[lot.type];
  const name = itemName(catalog, lot.type);
  const first = lot.items[0];
  const [price, setPrice] = useState("");
  const [currency, setCurrency] = useState<Currency>("soft");
  const [quantity, setQuantity] = useState("1");
  const [busy, setBusy] = useState(false);
  const [priceProblem, setPriceProblem] = useState<string | null>(null);
  const sellable = lot.custody === "in_game" && type?.tradeable !== false;
  const id = lot.key.replace(/[^A-Za-z0-9_-]/g, "-");

  const sell = async (e: FormEvent) => {
    e.preventDefault();
    const p = Number(price);
    const q = lot.stackable ? Number(quantity) : 1;
    if (!/^[1-9][0-9]{0,9}$/.test(price.trim()) || p > 1e9) return setPriceProblem("Enter a whole price from 1 to 1,000,000,000.");
    if (!Number.isInteger(q) || q < 1 || q > Math.min(100, lot.items.length)) {
      return setPriceProblem(`Enter a quantity from 1 to ${Math.min(100, lot.items.length)}.`);
    }
    setPriceProblem(null);
    const body: NewListing = lot.stackable ? { item_type: lot.type, quantity: q, currency, price: p } : { item: first.id, currency, price: p };
    setBusy(true);
    try {
      const l = await run(`sell:${lot.stackable ? lot.type : first.id}:${q}:${currency}:${p}`, (key) => createListing(body, key));
      onDone(`Listed ${name}${q > 1 ? ` × ${q}` : ""} for ${money(l.price, l.currency)}${q > 1 ? " each" : ""}.`);
      setPrice("");
    } catch (err) {
      onError(err);
    } finally {
      setBusy(false);
    }
  };

  const withdraw = async () => {
    setBusy(true);
    try {
      let w = await run(`withdraw:${first.id}`, (key) => withdrawItem(first.id, key));
      for (let i = 0; w.state === "withdrawing" && i < 30; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        w = await getWithdrawal(w.id);
      }
      if (w.state === "on_chain") onDone(`${name} is on chain at ${w.to}.`);
      else if (w.state === "withdraw_failed") onError(new Error(`The withdrawal failed: ${w.reason?.message ?? "no reason given"}.`));
      else onDone(`${name} is being withdrawn; it will show on chain soon.`);
    } catch (err) {
      onError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <li className="market-tile" data-testid="inventory-item">
      <strong>{name}{lot.items.length > 1 ? ` × ${lot.items.length}` : ""}</strong>
      <span className="market-muted">
        {type ? `${type.rarity}, ` : ""}{CUSTODY_NAMES[lot.custody] ?? lot.custody}; got {when(first.created_at)}
        {type && !type.tradeable ? "; cannot be traded" : ""}
      </span>
      {sellable ? (
        <form onSubmit={sell} aria-label={`Sell ${name}`}>
          <div className="market-field">
            <label htmlFor={`sell-price-${id}`}>Price{lot.stackable ? " each" : ""}</label>
            <input id={`sell-price-${id}`} inputMode="numeric" value={price} onChange={(e) => setPrice(e.target.value)}
              aria-invalid={priceProblem ? true : undefined} aria-describedby={priceProblem ? `sell-problem-${id}` : undefined} />
          </div>
          <div className="market-field">
            <label htmlFor={`sell-currency-${id}`}>Currency</label>
            <select id={`sell-currency-${id}`} value={currency} onChange={(e) => setCurrency(e.target.value as Currency)}>
              <option value="soft">Coins</option>
              <option value="premium">Gems</option>
            </select>
          </div>
          {lot.stackable ? (
            <div className="market-field">
              <label htmlFor={`sell-quantity-${id}`}>Quantity</label>
              <input id={`sell-quantity-${id}`} inputMode="numeric" value={quantity} onChange={(e) => setQuantity(e.target.value)} />
            </div>
          ) : null}
          <button type="submit" disabled={busy}>List for sale</button>
          {priceProblem ? <span id={`sell-problem-${id}`} className="market-field-problem">{priceProblem}</span> : null}
        </form>
      ) : null}
      {sellable && linked ? (
        <button type="button" className="market-secondary" onClick={withdraw} disabled={busy}>
          Withdraw {lot.items.length > 1 ? "one " : ""}to chain
        </button>
      ) : null}
    </li>
  );
}

function Store({ catalog, onDone, onError }: {
  catalog: Record<string, CatalogItem>; onDone: (text: string) => void; onError: (e: unknown) => void;
}) {
  const forSale = Object.values(catalog).filter((i) => CURRENCIES.some((c) => i.price[c]));
  return (
    <section className="market-card" aria-labelledby="inventory-store">
      <h2 id="inventory-store">Store</h2>
      <ul className="market-grid" aria-label="Store">
        {forSale.map((i) => <StoreTile key={i.id} item={i} onDone={onDone} onError={onError} />)}
      </ul>
    </section>
  );
}

function StoreTile({ item, onDone, onError }: { item: CatalogItem; onDone: (text: string) => void; onError: (e: unknown) => void }) {
  const run = useKeyedAction();
  const prices = CURRENCIES.filter((c) => item.price[c]);
  const [currency, setCurrency] = useState<Currency>(prices[0]);
  const [quantity, setQuantity] = useState("1");
  const [busy, setBusy] = useState(false);
  const max = item.max_per_purchase ?? (item.stackable ? 100 : 1);
  const soldOut = item.supply_left === 0;

  const buy = async (e: FormEvent) => {
    e.preventDefault();
    const q = item.stackable ? Number(quantity) : 1;
    if (!Number.isInteger(q) || q < 1 || q > max) return onError(new Error(`Enter a quantity from 1 to ${max}.`));
    setBusy(true);
    try {
      const p = await run(`store:${item.id}:${currency}:${q}`, (key) => buyFromStore(item.id, currency, q, key));
      onDone(`Bought ${item.name}${q > 1 ? ` × ${q}` : ""} for ${money(p.price, currency)}; you have ${money(p.balance, currency)} left.`);
    } catch (err) {
      onError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <li className="market-tile" data-testid="store-item">
      <strong>{item.name}</strong>
      <span className="market-muted">
        {item.rarity}; {balancesText(item.price)}{item.supply_left !== undefined ? `; ${item.supply_left} left` : ""}
      </span>
      {item.description ? <span>{item.description}</span> : null}
      <form onSubmit={buy} aria-label={`Buy ${item.name}`}>
        {prices.length > 1 ? (
          <div className="market-field">
            <label htmlFor={`store-currency-${item.id}`}>Pay with</label>
            <select id={`store-currency-${item.id}`} value={currency} onChange={(e) => setCurrency(e.target.value as Currency)}>
              {prices.map((c) => <option key={c} value={c}>{money(item.price[c] as number, c)}</option>)}
            </select>
          </div>
        ) : null}
        {item.stackable ? (
          <div className="market-field">
            <label htmlFor={`store-quantity-${item.id}`}>Quantity</label>
            <input id={`store-quantity-${item.id}`} inputMode="numeric" value={quantity} onChange={(e) => setQuantity(e.target.value)} />
          </div>
        ) : null}
        <button type="submit" disabled={busy || soldOut}>{soldOut ? "Sold out" : `Buy ${item.name}`}</button>
      </form>
    </li>
  );
}

function MyListings({ me, catalog, refresh, onDone, onError }: {
  me: string; catalog: Record<string, CatalogItem>; refresh: unknown; onDone: (t: string) => void; onError: (e: unknown) => void;
}) {
  const mine = useLoad(() => readListings({ seller: me, sort: "newest", limit: 50 }), [me, refresh]);
  const [busy, setBusy] = useState<string | null>(null);
  const cancel = async (id: string, name: string) => {
    setBusy(id);
    try {
      await cancelListing(id);
      walletChanged();
      onDone(`The listing of ${name} is cancelled; the items are back in your inventory.`);
    } catch (e) {
      onError(e);
    } finally {
      setBusy(null);
    }
  };
  const listings = mine.data?.listings ?? [];
  return (
    <section className="market-card" aria-labelledby="inventory-listings">
      <h2 id="inventory-listings">My listings</h2>
      <Alert error={mine.error} />
      {mine.data && listings.length === 0 ? <p>Nothing listed for sale.</p> : null}
      <ul className="market-list" aria-label="My listings">
        {listings.map((l) => {
          const name = l.item_name || itemName(catalog, l.item_type);
          return (
            <li key={l.id} className="market-row" data-testid="my-listing-row">
              <Link to={`/market/listings/${encodeURIComponent(l.id)}`} className="market-row-title">
                {name}{l.quantity > 1 ? ` × ${l.quantity}` : ""}
              </Link>
              <span className="market-price">{money(l.price, l.currency)}{l.quantity > 1 ? " each" : ""}</span>
              <button type="button" className="market-secondary" disabled={busy === l.id}
                onClick={() => cancel(l.id, name)} aria-label={`Cancel the listing of ${name}`}>Cancel</button>
              <span className="market-muted">expires {when(l.expires_at)}</span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
