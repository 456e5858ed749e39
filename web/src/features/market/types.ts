/** What commerce answers, as the market pages read it (docs/commerce.md). */

export type Currency = "soft" | "premium";
export const CURRENCIES: readonly Currency[] = ["soft", "premium"];
export type Balances = Partial<Record<Currency, number>>;

export interface CatalogItem {
  id: string;
  name: string;
  description?: string;
  rarity: string;
  stackable: boolean;
  tradeable: boolean;
  price: Balances;
  max_per_purchase?: number;
  supply_cap?: number | null;
  supply_left?: number;
}

export type Custody = "in_game" | "listed" | "escrow" | "withdrawing" | "on_chain" | "held";

export interface OwnedItem {
  id: string;
  item_id: string;
  custody: Custody;
  attributes?: Record<string, unknown>;
  origin?: { kind?: string; [key: string]: unknown };
  created_at: string;
}

export type ListingState = "open" | "sold" | "cancelled" | "expired";
export type ListingSort = "newest" | "oldest" | "price_asc" | "price_desc";

export interface Listing {
  id: string;
  seller: string;
  seller_name?: string | null;
  item_type: string;
  item_name?: string | null;
  rarity: string;
  quantity: number;
  items: string[];
  currency: Currency;
  price: number;
  total: number;
  fee_bps: number;
  state: ListingState;
  created_at: string;
  expires_at: string;
  closed_at?: string;
  buyer?: string;
  sale_id?: string;
}

export interface ListingPage {
  listings: Listing[];
  next: string | null;
}

export interface StatsWindow {
  sales: number;
  units: number;
  turnover: number;
  min: number | null;
  max: number | null;
  median: number | null;
}

export interface PriceStats {
  last: { unit_price: number; quantity: number; at: string } | null;
  "24h": StatsWindow;
  "7d": StatsWindow;
}

export interface Provenance {
  item: string;
  origin: string | null;
  previous_owners: string[];
  sales: { price: number; currency: Currency; at: string }[];
}

/** One point of a price history: a unit price paid at a time. */
export interface PricePoint {
  at: string;
  price: number;
}

export interface ListingDetail extends Listing {
  provenance: Provenance[];
  price_stats: Partial<Record<Currency, PriceStats>>;
  /** Sales of this item type in the listing's currency, oldest first. */
  history: PricePoint[];
}

export interface Sale {
  sale_id: string;
  listing_id: string;
  item_type: string;
  items: string[];
  quantity: number;
  currency: Currency;
  price: number;
  balance: number;
  seller: string;
}

export interface Wallet {
  account_id: string;
  balances: Balances;
  debts?: { currency: Currency; remaining: number; [key: string]: unknown }[];
}

export interface LedgerEntry {
  id: string;
  kind: string;
  currency: Currency;
  delta: number;
  balance_after: number | null;
  reason: string;
  ref?: string | null;
  items?: string[];
  at: string;
}

export interface TradeSide {
  items: { id: string; item_id: string }[];
  currency: Balances;
}

export type TradeState = "open" | "accepted" | "declined" | "cancelled" | "expired";

export interface Trade {
  trade_id: string;
  offerer_id: string;
  receiver_id: string;
  state: TradeState;
  offer: TradeSide;
  request: TradeSide;
  created_at: string;
  expires_at: string;
  closed_at: string | null;
  closed_by: string | null;
  offerer_name?: string | null;
  receiver_name?: string | null;
}

export interface Pack {
  id: string;
  name: string;
  price: number;
  currency: string;
  premium: number;
}

export type PaymentState = "pending" | "paid" | "partially_refunded" | "refunded" | "disputed";

export interface Payment {
  payment_id: string;
  provider: string;
  pack_id: string;
  premium: number;
  price: number;
  currency: string;
  state: PaymentState;
  checkout_url: string | null;
  created_at: string;
  paid_at: string | null;
}

export interface Profile {
  account_id?: string;
  display_name: string;
  username?: string | null;
  eth_address?: string | null;
  [key: string]: unknown;
}

export interface Friend {
  id: string;
  display_name: string;
  presence?: string;
}

export interface Challenge {
  message: string;
  address: string;
  nonce: string;
  chain_id: number;
  expiration_time: string;
}

export interface Withdrawal {
  id: string;
  item: string;
  item_id: string;
  state: "withdrawing" | "on_chain" | "withdraw_failed";
  to: string;
  token_id: string;
  tx_hash: string | null;
  reason?: { code: string; message: string };
}
