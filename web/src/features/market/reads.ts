/**
 * The market pages' reads through GraphQL (`/graphql`, gateway/schema.graphql), turned into the
 * same shapes commerce's REST bodies have, so the pages read one vocabulary. The ledger and a
 * withdrawal's progress are not in the schema: they stay REST reads (commerce.ts).
 */
import { api } from "../../api";
import { historyFromProvenance } from "./commerce";
import type {
  Balances, CatalogItem, Currency, Friend, Listing, ListingDetail, ListingPage, ListingSort, OwnedItem, Pack,
  Payment, PriceStats, Profile, StatsWindow, Trade, Wallet,
} from "./types";

type Amounts = { soft: number | null; premium: number | null };
const amounts = (a: Amounts | null | undefined): Balances => {
  const out: Balances = {};
  if (a?.soft) out.soft = a.soft;
  if (a?.premium) out.premium = a.premium;
  return out;
};

const LISTING_FIELDS = `id sellerId itemType rarity quantity items currency price total feeBps state createdAt expiresAt
  closedAt buyerId saleId seller { displayName } item { name }`;

interface GqlListing {
  id: string; sellerId: string; itemType: string; rarity: string; quantity: number; items: string[]; currency: string;
  price: number; total: number; feeBps: number; state: string; createdAt: string; expiresAt: string;
  closedAt: string | null; buyerId: string | null; saleId: string | null;
  seller: { displayName: string } | null; item: { name: string } | null;
}

function listing(g: GqlListing): Listing {
  return {
    id: g.id, seller: g.sellerId, seller_name: g.seller?.displayName ?? null, item_type: g.itemType,
    item_name: g.item?.name ?? null, rarity: g.rarity, quantity: g.quantity, items: g.items,
    currency: g.currency as Currency, price: g.price, total: g.total, fee_bps: g.feeBps,
    state: g.state as Listing["state"], created_at: g.createdAt, expires_at: g.expiresAt,
    closed_at: g.closedAt ?? undefined, buyer: g.buyerId ?? undefined, sale_id: g.saleId ?? undefined,
  };
}

const SORT: Record<ListingSort, string> = { newest: "NEWEST", oldest: "OLDEST", price_asc: "PRICE_ASC", price_desc: "PRICE_DESC" };

/** A page of open listings; `query` is what `listingQuery` makes for the REST route. */
export async function readListings(query: Record<string, string | number>): Promise<ListingPage> {
  const filter: Record<string, string | number> = {};
  if (query.item_type) filter.itemType = query.item_type;
  if (query.rarity) filter.rarity = query.rarity;
  if (query.currency) filter.currency = query.currency;
  if (query.seller) filter.seller = query.seller;
  if (query.min_price) filter.minPrice = Number(query.min_price);
  if (query.max_price) filter.maxPrice = Number(query.max_price);
  const data = await api.graphql<{ listings: { listings: GqlListing[]; next: string | null } }>(
    `query Listings($filter: ListingFilter, $sort: ListingSort!, $first: Int!, $after: String) {
      listings(filter: $filter, sort: $sort, first: $first, after: $after) { listings { ${LISTING_FIELDS} } next }
    }`,
    { filter, sort: SORT[(query.sort as ListingSort) || "newest"], first: Number(query.limit) || 20, after: query.cursor ?? null },
  );
  return { listings: data.listings.listings.map(listing), next: data.listings.next };
}

type GqlWindow = StatsWindow;
interface GqlStats { last: { unitPrice: number; quantity: number; at: string } | null; day: GqlWindow; week: GqlWindow }
const WINDOW = "sales units turnover min max median";
const STATS = `last { unitPrice quantity at } day { ${WINDOW} } week { ${WINDOW} }`;

function stats(g: GqlStats | null): PriceStats | undefined {
  if (!g) return undefined;
  return { last: g.last && { unit_price: g.last.unitPrice, quantity: g.last.quantity, at: g.last.at }, "24h": g.day, "7d": g.week };
}

/** One listing with provenance and statistics; `null` when there is no such listing. */
export async function readListing(id: string): Promise<ListingDetail | null> {
  const data = await api.graphql<{
    listing: (GqlListing & {
      provenance: { item: string; origin: string | null; previousOwners: string[]; sales: { price: number; currency: string; at: string }[] }[];
      priceStats: { soft: GqlStats | null; premium: GqlStats | null };
    }) | null;
  }>(
    `query Listing($id: ID!) {
      listing(id: $id) {
        ${LISTING_FIELDS}
        provenance { item origin previousOwners sales { price currency at } }
        priceStats { soft { ${STATS} } premium { ${STATS} } }
      }
    }`,
    { id },
  );
  const g = data.listing;
  if (!g) return null;
  const provenance = g.provenance.map((p) => ({
    item: p.item, origin: p.origin, previous_owners: p.previousOwners,
    sales: p.sales.map((s) => ({ price: s.price, currency: s.currency as Currency, at: s.at })),
  }));
  const base = listing(g);
  const price_stats: ListingDetail["price_stats"] = {};
  const soft = stats(g.priceStats.soft);
  const premium = stats(g.priceStats.premium);
  if (soft) price_stats.soft = soft;
  if (premium) price_stats.premium = premium;
  return { ...base, provenance, price_stats, history: historyFromProvenance(provenance, base.currency, price_stats[base.currency]?.last) };
}

export async function readCatalog(): Promise<CatalogItem[]> {
  const data = await api.graphql<{ catalog: {
    id: string; name: string; description: string | null; rarity: string; stackable: boolean; tradeable: boolean;
    price: Amounts; supplyCap: number | null; supplyLeft: number | null; maxPerPurchase: number | null;
  }[] }>(`{ catalog { id name description rarity stackable tradeable price { soft premium } supplyCap supplyLeft maxPerPurchase } }`);
  return data.catalog.map((i) => ({
    id: i.id, name: i.name, description: i.description ?? undefined, rarity: i.rarity, stackable: i.stackable,
    tradeable: i.tradeable, price: amounts(i.price), supply_cap: i.supplyCap,
    supply_left: i.supplyLeft ?? undefined, max_per_purchase: i.maxPerPurchase ?? undefined,
  }));
}

const WALLET = "wallet { accountId balances { soft premium } debts { currency remaining } }";
const PROFILE = "profile { accountId displayName username ethAddress }";

interface GqlWallet { accountId: string; balances: Amounts; debts: { currency: string; remaining: number }[] }
interface GqlProfile { accountId: string; displayName: string; username: string | null; ethAddress: string | null }
const wallet = (w: GqlWallet): Wallet => ({
  account_id: w.accountId, balances: { soft: w.balances.soft ?? 0, premium: w.balances.premium ?? 0 },
  debts: w.debts.map((d) => ({ currency: d.currency as Currency, remaining: d.remaining })),
});
const profile = (p: GqlProfile): Profile => ({
  account_id: p.accountId, display_name: p.displayName, username: p.username, eth_address: p.ethAddress,
});

function signedIn<T>(viewer: T | null): T {
  if (!viewer) throw new Error("Sign in again: the session has ended.");
  return viewer;
}

export interface WalletView { wallet: Wallet; profile: Profile; payments: Payment[]; packs: Pack[] }

export async function readWalletView(): Promise<WalletView> {
  const data = await api.graphql<{
    viewer: { wallet: GqlWallet; profile: GqlProfile; payments: {
      paymentId: string; provider: string; packId: string; premium: number; price: number; currency: string;
      state: string; checkoutUrl: string | null; createdAt: string; paidAt: string | null;
    }[] } | null;
    packs: Pack[];
  }>(`{ viewer { ${WALLET} ${PROFILE}
        payments(first: 10) { paymentId provider packId premium price currency state checkoutUrl createdAt paidAt } }
      packs { id name price currency premium } }`);
  const v = signedIn(data.viewer);
  return {
    wallet: wallet(v.wallet), profile: profile(v.profile), packs: data.packs,
    payments: v.payments.map((p) => ({
      payment_id: p.paymentId, provider: p.provider, pack_id: p.packId, premium: p.premium, price: p.price,
      currency: p.currency, state: p.state as Payment["state"], checkout_url: p.checkoutUrl, created_at: p.createdAt,
      paid_at: p.paidAt,
    })),
  };
}

export interface InventoryView { wallet: Wallet; profile: Profile; items: OwnedItem[] }

export async function readInventory(first: number, after: string | null): Promise<InventoryView> {
  const data = await api.graphql<{ viewer: { wallet: GqlWallet; profile: GqlProfile; items: {
    id: string; itemId: string; custody: string; origin: Record<string, unknown>; createdAt: string;
  }[] } | null }>(
    `query Inventory($first: Int!, $after: ID) { viewer { ${WALLET} ${PROFILE}
      items(first: $first, after: $after) { id itemId custody origin createdAt } } }`,
    { first, after },
  );
  const v = signedIn(data.viewer);
  return {
    wallet: wallet(v.wallet), profile: profile(v.profile),
    items: v.items.map((i) => ({ id: i.id, item_id: i.itemId, custody: i.custody as OwnedItem["custody"], origin: i.origin, created_at: i.createdAt })),
  };
}

const SIDE = "items { id itemId } currency { soft premium }";
interface GqlSide { items: { id: string; itemId: string }[]; currency: Amounts }
interface GqlTrade {
  tradeId: string; offererId: string; receiverId: string; state: string; offer: GqlSide; request: GqlSide;
  createdAt: string; expiresAt: string; closedAt: string | null; closedBy: string | null;
  offerer: { displayName: string } | null; receiver: { displayName: string } | null;
}
const side = (s: GqlSide) => ({ items: s.items.map((i) => ({ id: i.id, item_id: i.itemId })), currency: amounts(s.currency) });

export async function readTrades(role: "sent" | "received", state: string, after: string | null, first = 20):
  Promise<{ trades: Trade[]; next_cursor: string | null }> {
  const data = await api.graphql<{ viewer: { trades: { trades: GqlTrade[]; nextCursor: string | null } } | null }>(
    `query Trades($role: TradeRole!, $state: String, $first: Int!, $after: String) { viewer {
      trades(role: $role, state: $state, first: $first, after: $after) {
        trades { tradeId offererId receiverId state offer { ${SIDE} } request { ${SIDE} } createdAt expiresAt closedAt closedBy
                 offerer { displayName } receiver { displayName } }
        nextCursor } } }`,
    { role: role.toUpperCase(), state: state || null, first, after },
  );
  const v = signedIn(data.viewer);
  return {
    next_cursor: v.trades.nextCursor,
    trades: v.trades.trades.map((t) => ({
      trade_id: t.tradeId, offerer_id: t.offererId, receiver_id: t.receiverId, state: t.state as Trade["state"],
      offer: side(t.offer), request: side(t.request), created_at: t.createdAt, expires_at: t.expiresAt,
      closed_at: t.closedAt, closed_by: t.closedBy, offerer_name: t.offerer?.displayName ?? null,
      receiver_name: t.receiver?.displayName ?? null,
    })),
  };
}

export interface TradeBuilderView { friends: Friend[]; items: OwnedItem[]; wallet: Wallet }

export async function readTradeBuilder(): Promise<TradeBuilderView> {
  const data = await api.graphql<{ viewer: {
    friends: { id: string; displayName: string; presence: { state: string | null } | null }[];
    items: { id: string; itemId: string; custody: string; createdAt: string }[];
    wallet: GqlWallet;
  } | null }>(`{ viewer { friends { id displayName presence { state } } items(first: 200) { id itemId custody createdAt } ${WALLET} } }`);
  const v = signedIn(data.viewer);
  return {
    friends: v.friends.map((f) => ({ id: f.id, display_name: f.displayName, presence: f.presence?.state ?? undefined })),
    items: v.items.map((i) => ({ id: i.id, item_id: i.itemId, custody: i.custody as OwnedItem["custody"], created_at: i.createdAt })),
    wallet: wallet(v.wallet),
  };
}
