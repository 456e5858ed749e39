/**
 * The market pages' state: the marketplace search (filters, sort and the cursors walked so far),
 * the idempotency keys of actions that move money or items (kept until the action succeeds, so a
 * retry of the same action sends the same key), the catalog's names, and the checkout awaiting
 * its payment.
 */
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import type { CatalogItem, Currency, ListingSort } from "./types";

export interface ListingFilters {
  q: string;
  item_type: string;
  rarity: string;
  currency: "" | Currency;
  min_price: string;
  max_price: string;
  sort: ListingSort;
}

export const EMPTY_FILTERS: ListingFilters = {
  q: "", item_type: "", rarity: "", currency: "", min_price: "", max_price: "", sort: "newest",
};

export interface MarketState {
  filters: ListingFilters;
  /** Cursors of the pages walked: `cursors[i]` is the cursor that fetches page i (page 0: null). */
  cursors: (string | null)[];
  page: number;
  /** action name → Idempotency-Key, e.g. "buy:<listing id>". */
  keys: Record<string, string>;
  catalog: Record<string, CatalogItem>;
  /** The payment whose checkout was opened and is not yet seen paid. */
  pendingPayment: string | null;
}

const PENDING_KEY = "elysium.market.pendingPayment";

function loadPending(): string | null {
  try {
    return globalThis.sessionStorage?.getItem(PENDING_KEY) ?? null;
  } catch {
    return null;
  }
}

function savePending(id: string | null): void {
  try {
    if (id) globalThis.sessionStorage?.setItem(PENDING_KEY, id);
    else globalThis.sessionStorage?.removeItem(PENDING_KEY);
  } catch {
    /* private mode: the poll lasts as long as the page */
  }
}

export function initialMarketState(): MarketState {
  return { filters: { ...EMPTY_FILTERS }, cursors: [null], page: 0, keys: {}, catalog: {}, pendingPayment: loadPending() };
}

/** Which filters the API takes together: a price range or a price order needs a currency. */
export function filterProblems(f: ListingFilters): Partial<Record<keyof ListingFilters, string>> {
  const out: Partial<Record<keyof ListingFilters, string>> = {};
  for (const field of ["min_price", "max_price"] as const) {
    const raw = f[field].trim();
    if (raw && !/^[1-9][0-9]{0,9}$/.test(raw)) out[field] = "Enter a whole number of at least 1.";
    else if (raw && !f.currency) out[field] = "Choose a currency to filter by price.";
  }
  if (!out.min_price && !out.max_price && f.min_price && f.max_price && Number(f.min_price) > Number(f.max_price)) {
    out.max_price = "The highest price is below the lowest.";
  }
  if ((f.sort === "price_asc" || f.sort === "price_desc") && !f.currency) out.sort = "Choose a currency to sort by price.";
  return out;
}

/** The query of `GET /v1/listings` for these filters (the search box names an item type). */
export function listingQuery(f: ListingFilters, cursor: string | null, limit: number): Record<string, string | number> {
  const q: Record<string, string | number> = { sort: f.sort, limit };
  const itemType = f.item_type || f.q.trim();
  if (itemType) q.item_type = itemType;
  if (f.rarity) q.rarity = f.rarity;
  if (f.currency) q.currency = f.currency;
  if (f.currency && f.min_price.trim()) q.min_price = Number(f.min_price);
  if (f.currency && f.max_price.trim()) q.max_price = Number(f.max_price);
  if (cursor) q.cursor = cursor;
  return q;
}

const marketSlice = createSlice({
  name: "market",
  initialState: initialMarketState,
  reducers: {
    /** New filters start the search from its first page: a cursor belongs to one sort and filter set. */
    filtersChanged(state, action: PayloadAction<Partial<ListingFilters>>) {
      state.filters = { ...state.filters, ...action.payload };
      state.cursors = [null];
      state.page = 0;
    },
    filtersReset(state) {
      state.filters = { ...EMPTY_FILTERS };
      state.cursors = [null];
      state.page = 0;
    },
    /** The page just read said where the next one starts (null: it was the last). */
    pageRead(state, action: PayloadAction<{ page: number; next: string | null }>) {
      const { page, next } = action.payload;
      if (page !== state.page) return; // an answer to a page we left
      state.cursors = state.cursors.slice(0, page + 1);
      if (next) state.cursors.push(next);
    },
    nextPage(state) {
      if (state.page + 1 < state.cursors.length) state.page += 1;
    },
    previousPage(state) {
      if (state.page > 0) state.page -= 1;
    },
    /** An action's key, made once and kept for its retries (see `actionKey`). */
    keyIssued(state, action: PayloadAction<{ action: string; key: string }>) {
      if (!state.keys[action.payload.action]) state.keys[action.payload.action] = action.payload.key;
    },
    /** The action succeeded: the next one like it is a new action with a new key. */
    actionDone(state, action: PayloadAction<string>) {
      delete state.keys[action.payload];
    },
    catalogLoaded(state, action: PayloadAction<CatalogItem[]>) {
      state.catalog = Object.fromEntries(action.payload.map((i) => [i.id, i]));
    },
    checkoutOpened(state, action: PayloadAction<string>) {
      state.pendingPayment = action.payload;
      savePending(action.payload);
    },
    checkoutSettled(state) {
      state.pendingPayment = null;
      savePending(null);
    },
  },
});

export const {
  filtersChanged, filtersReset, pageRead, nextPage, previousPage, keyIssued, actionDone, catalogLoaded,
  checkoutOpened, checkoutSettled,
} = marketSlice.actions;
export default marketSlice.reducer;
