import { useEffect, useMemo, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { useAppDispatch, useAppSelector } from "../../store";
import {
  filterProblems, filtersChanged, filtersReset, listingQuery, nextPage, pageRead, previousPage, type ListingFilters,
} from "../../features/market/marketSlice";
import { readListings } from "../../features/market/reads";
import { itemName, matchItemTypes, money, shortId, when } from "../../features/market/format";
import type { ListingSort } from "../../features/market/types";
import { Alert, MarketNav, Status, useCatalog, useLoad } from "./common";
import "./market.css";

const PAGE_SIZE = 20;
const SORTS: { value: ListingSort; label: string }[] = [
  { value: "newest", label: "Newest first" },
  { value: "oldest", label: "Oldest first" },
  { value: "price_asc", label: "Price, lowest first" },
  { value: "price_desc", label: "Price, highest first" },
];

export function MarketPage() {
  const dispatch = useAppDispatch();
  const { filters, cursors, page } = useAppSelector((s) => s.market);
  const { catalog, error: catalogError } = useCatalog();
  const [draft, setDraft] = useState<ListingFilters>(filters);
  const [problems, setProblems] = useState<ReturnType<typeof filterProblems>>({});
  useEffect(() => setDraft(filters), [filters]);

  const rarities = useMemo(() => [...new Set(Object.values(catalog).map((i) => i.rarity))].sort(), [catalog]);
  const types = useMemo(() => Object.values(catalog).sort((a, b) => a.name.localeCompare(b.name)), [catalog]);

  // The search box names an item type; the API filters by one type at a time.
  const searched = filters.q.trim() && !filters.item_type ? matchItemTypes(filters.q, catalog) : null;
  const noMatch = searched !== null && Object.keys(catalog).length > 0 && searched.length === 0;
  const effective: ListingFilters = searched && searched.length ? { ...filters, item_type: searched[0] } : filters;
  const cursor = cursors[page] ?? null;

  const result = useLoad(
    () => readListings(listingQuery(effective, cursor, PAGE_SIZE)),
    [JSON.stringify(effective), cursor],
    !noMatch,
  );
  useEffect(() => {
    if (result.data) dispatch(pageRead({ page, next: result.data.next }));
  }, [result.data, page, dispatch]);

  const set = (patch: Partial<ListingFilters>) => setDraft((d) => ({ ...d, ...patch }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const p = filterProblems(draft);
    setProblems(p);
    if (Object.keys(p).length === 0) dispatch(filtersChanged(draft));
  };
  const field = (name: keyof ListingFilters) => ({
    id: `market-${name}`,
    "aria-invalid": problems[name] ? true : undefined,
    "aria-describedby": problems[name] ? `market-${name}-problem` : undefined,
  });
  const problem = (name: keyof ListingFilters) =>
    problems[name] ? <span id={`market-${name}-problem`} className="market-field-problem">{problems[name]}</span> : null;

  const listings = result.data?.listings ?? [];
  const hasNext = page + 1 < cursors.length;

  return (
    <main id="main" className="market">
      <h1>Marketplace</h1>
      <MarketNav />
      <form className="market-filters" onSubmit={submit} aria-label="Search listings">
        <div className="market-field market-field-wide">
          <label htmlFor="market-q">Search items</label>
          <input {...field("q")} type="search" list="market-item-names" value={draft.q}
            onChange={(e) => set({ q: e.target.value })} placeholder="e.g. Speed Boots" />
          <datalist id="market-item-names">
            {types.map((t) => <option key={t.id} value={t.name} />)}
          </datalist>
        </div>
        <div className="market-field">
          <label htmlFor="market-item_type">Item type</label>
          <select {...field("item_type")} value={draft.item_type} onChange={(e) => set({ item_type: e.target.value })}>
            <option value="">Any</option>
            {types.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
          </select>
        </div>
        <div className="market-field">
          <label htmlFor="market-rarity">Rarity</label>
          <select {...field("rarity")} value={draft.rarity} onChange={(e) => set({ rarity: e.target.value })}>
            <option value="">Any</option>
            {rarities.map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </div>
        <div className="market-field">
          <label htmlFor="market-currency">Currency</label>
          <select {...field("currency")} value={draft.currency}
            onChange={(e) => set({ currency: e.target.value as ListingFilters["currency"] })}>
            <option value="">Any</option>
            <option value="soft">Coins</option>
            <option value="premium">Gems</option>
          </select>
        </div>
        <div className="market-field">
          <label htmlFor="market-min_price">Lowest unit price</label>
          <input {...field("min_price")} inputMode="numeric" value={draft.min_price}
            onChange={(e) => set({ min_price: e.target.value })} />
          {problem("min_price")}
        </div>
        <div className="market-field">
          <label htmlFor="market-max_price">Highest unit price</label>
          <input {...field("max_price")} inputMode="numeric" value={draft.max_price}
            onChange={(e) => set({ max_price: e.target.value })} />
          {problem("max_price")}
        </div>
        <div className="market-field">
          <label htmlFor="market-sort">Sort</label>
          <select {...field("sort")} value={draft.sort} onChange={(e) => set({ sort: e.target.value as ListingSort })}>
            {SORTS.map((s) => <option key={s.value} value={s.value}>{s.label}</option>)}
          </select>
          {problem("sort")}
        </div>
        <div className="market-actions">
          <button type="submit">Search</button>
          <button type="button" className="market-secondary" onClick={() => { setProblems({}); dispatch(filtersReset()); }}>
            Clear filters
          </button>
        </div>
      </form>

      <Alert error={catalogError} />
      <Alert error={result.error} />
      {noMatch ? <Status>No item type matches “{filters.q.trim()}”.</Status> : null}
      {!noMatch && result.loading ? <Status>Loading listings…</Status> : null}
      {!noMatch && !result.loading && result.data ? (
        <Status>
          {listings.length ? `Page ${page + 1}: ${listings.length} listing${listings.length === 1 ? "" : "s"}` : "No listings match."}
          {searched && searched.length ? ` Showing ${itemName(catalog, searched[0])}.` : ""}
        </Status>
      ) : null}

      <ul className="market-list" aria-label="Listings">
        {listings.map((l) => (
          <li key={l.id} data-testid="listing-row" className="market-row">
            <Link to={`/market/listings/${encodeURIComponent(l.id)}`} className="market-row-title">
              {l.item_name || itemName(catalog, l.item_type)}{l.quantity > 1 ? ` × ${l.quantity}` : ""}
            </Link>
            <span className={`market-rarity market-rarity-${l.rarity}`}>{l.rarity}</span>
            <span className="market-price">{money(l.price, l.currency)}{l.quantity > 1 ? " each" : ""}</span>
            <span className="market-muted">
              by <Link to={`/players/${encodeURIComponent(l.seller)}`}>{l.seller_name || shortId(l.seller)}</Link>,
              {" "}listed {when(l.created_at)}
            </span>
          </li>
        ))}
      </ul>

      <nav aria-label="Pages" className="market-pager">
        <button type="button" onClick={() => dispatch(previousPage())} disabled={page === 0}>Previous page</button>
        <span>Page {page + 1}</span>
        <button type="button" onClick={() => dispatch(nextPage())} disabled={!hasNext}>Next page</button>
      </nav>
    </main>
  );
}
