/**
 * The market's calls to commerce (`/api/commerce/v1/...`): the reads not served by GraphQL, and
 * every write, each write that moves money or items with its Idempotency-Key.
 */
import { api } from "../../api";
import type {
  Balances, CatalogItem, Challenge, Currency, Friend, LedgerEntry, Listing, ListingDetail, ListingPage, OwnedItem,
  Pack, Payment, PricePoint, Profile, Sale, Trade, Wallet, Withdrawal,
} from "./types";

const c = "commerce" as const;

// --- reads ------------------------------------------------------------------------------------

export const getCatalog = () => api.request<{ items: CatalogItem[] }>(c, "/v1/catalog").then((r) => r.items);
export const getMe = () => api.request<Profile>(c, "/v1/me");
export const getWallet = () => api.request<Wallet>(c, "/v1/me/wallet");
export const getLedger = (limit: number, before?: string) =>
  api.request<{ entries: LedgerEntry[] }>(c, "/v1/me/ledger", { query: { limit, before } }).then((r) => r.entries);
export const getItems = (limit: number, before?: string) =>
  api.request<{ items: OwnedItem[] }>(c, "/v1/me/items", { query: { limit, before } }).then((r) => r.items);
export const getPacks = () => api.request<{ packs: Pack[]; provider: string }>(c, "/v1/packs");
export const getPayments = (limit = 20) =>
  api.request<{ payments: Payment[] }>(c, "/v1/me/payments", { query: { limit } }).then((r) => r.payments);
export const getFriends = () => api.request<{ friends: Friend[] }>(c, "/v1/me/friends").then((r) => r.friends);
export const getTrades = (role: "sent" | "received", state: string, cursor: string | null, limit = 20) =>
  api.request<{ trades: Trade[]; next_cursor: string | null }>(c, "/v1/trades", {
    query: { role, state: state || undefined, cursor, limit },
  });
export const getListings = (query: Record<string, string | number>) =>
  api.request<ListingPage>(c, "/v1/listings", { query });
export const getWithdrawal = (id: string) => api.request<Withdrawal>(c, `/v1/me/withdrawals/${encodeURIComponent(id)}`);

/** A listing with its provenance, statistics and the sales of its type, oldest first. */
export async function getListing(id: string): Promise<ListingDetail> {
  const raw = await api.request<Omit<ListingDetail, "history">>(c, `/v1/listings/${encodeURIComponent(id)}`);
  return { ...raw, history: historyFromProvenance(raw.provenance, raw.currency, raw.price_stats[raw.currency]?.last) };
}

/**
 * The price history a listing shows: the sales its items went through and the latest sale of its
 * item type, in the listing's currency, oldest first.
 */
export function historyFromProvenance(provenance: ListingDetail["provenance"], currency: Currency,
  lastOfType?: { unit_price: number; at: string } | null): PricePoint[] {
  const seen = new Set<string>();
  const out: PricePoint[] = [];
  if (lastOfType) {
    seen.add(`${lastOfType.at}|${lastOfType.unit_price}`);
    out.push({ at: lastOfType.at, price: lastOfType.unit_price });
  }
  for (const p of provenance) {
    for (const s of p.sales) {
      if (s.currency !== currency) continue;
      const k = `${s.at}|${s.price}`;
      if (seen.has(k)) continue; // the items of one lot share their sale
      seen.add(k);
      out.push({ at: s.at, price: s.price });
    }
  }
  return out.sort((a, b) => a.at.localeCompare(b.at));
}

// --- writes -----------------------------------------------------------------------------------

export const buyListing = (id: string, key: string) =>
  api.request<Sale>(c, `/v1/listings/${encodeURIComponent(id)}/purchase`, { method: "POST", idempotencyKey: key });
export const cancelListing = (id: string) =>
  api.request<Listing>(c, `/v1/listings/${encodeURIComponent(id)}`, { method: "DELETE" });

export interface NewListing {
  item?: string;
  item_type?: string;
  quantity?: number;
  currency: Currency;
  price: number;
  expires_in_s?: number;
}
export const createListing = (body: NewListing, key: string) =>
  api.request<Listing>(c, "/v1/listings", { body, idempotencyKey: key });

export const buyFromStore = (item_id: string, currency: Currency, quantity: number, key: string) =>
  api.request<{ purchase_id: string; price: number; balance: number; items: string[] }>(c, "/v1/purchases", {
    body: { item_id, currency, quantity }, idempotencyKey: key,
  });

export const withdrawItem = (id: string, key: string) =>
  api.request<Withdrawal>(c, `/v1/me/items/${encodeURIComponent(id)}/withdraw`, { method: "POST", idempotencyKey: key });

export interface TradeOffer {
  receiver_id: string;
  offer?: { items?: string[]; currency?: Balances };
  request?: { items?: string[]; currency?: Balances };
  expires_in_s?: number;
}
export const offerTrade = (body: TradeOffer, key: string) =>
  api.request<Trade>(c, "/v1/trades", { body, idempotencyKey: key });
export const moveTrade = (id: string, move: "accept" | "decline" | "cancel", key: string) =>
  api.request<Trade>(c, `/v1/trades/${encodeURIComponent(id)}/${move}`, { method: "POST", idempotencyKey: key });

export const checkout = (pack_id: string, key: string) =>
  api.request<Payment>(c, "/v1/payments/checkout", { body: { pack_id }, idempotencyKey: key });
/** The offline sandbox's Pay button, pressed from the wallet page (its URL is the capability). */
export const paySandbox = (paymentId: string) =>
  api.request<Payment>(c, `/v1/payments/sandbox/${encodeURIComponent(paymentId)}`, { method: "POST" });

export const walletChallenge = (address: string) =>
  api.request<Challenge>(c, "/v1/me/wallet/challenge", { body: { address } });
export const linkWallet = (message: string, signature: string) =>
  api.request<Profile>(c, "/v1/me/wallet/link", { body: { message, signature } });
export const unlinkWallet = () => api.request<void>(c, "/v1/me/wallet", { method: "DELETE" });

/**
 * Where the browser opens a checkout: a sandbox page of commerce is reached through the one
 * origin's `/api/commerce` prefix; any other provider's page (Stripe's) is opened as it is.
 */
export function checkoutHref(payment: Payment): string | null {
  const url = payment.checkout_url;
  if (!url) return null;
  if (payment.provider === "sandbox") return `/api/commerce/v1/payments/sandbox/${encodeURIComponent(payment.payment_id)}`;
  return /^https:\/\//.test(url) ? url : null;
}
