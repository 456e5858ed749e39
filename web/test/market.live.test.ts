// @vitest-environment node
/**
 * The market's reads and writes against a running gateway and its services (`elysium up`), run when
 * ELYSIUM_WEB_GATEWAY_URL names the gateway: `ELYSIUM_WEB_GATEWAY_URL=http://127.0.0.1:7400 npx vitest run test/market.live.test.ts`.
 */
import { describe, expect, it } from "vitest";
import { ApiError, newIdempotencyKey } from "@elysium/sdk";
import { api } from "../src/api";
import {
  buyFromStore, buyListing, cancelListing, checkout, checkoutHref, createListing, getLedger, moveTrade, offerTrade, paySandbox,
  walletChallenge, withdrawItem,
} from "../src/features/market/commerce";
import { readCatalog, readInventory, readListing, readListings, readTradeBuilder, readTrades, readWalletView } from "../src/features/market/reads";
import { listingQuery, EMPTY_FILTERS } from "../src/features/market/marketSlice";

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const base = env.ELYSIUM_WEB_GATEWAY_URL ?? "";

async function register(name: string): Promise<{ id: string; token: string }> {
  const username = `${name}${Math.random().toString(36).slice(2, 10)}`;
  const r = await api.request<{ account_id: string; access_token: string }>("commerce", "/v1/accounts", {
    body: { username, password: "correct horse battery", display_name: name }, token: null,
  });
  return { id: r.account_id, token: r.access_token };
}

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

if (!base) throw new Error("this file runs against live services: see the comment at its top");

describe("the market against a running gateway", () => {
  it("buys from the store, lists, finds, buys a listing, trades and pays for gems", { timeout: 60_000 }, async () => {
    api.base = base;
    const alice = await register("Alice");
    const bob = await register("Bob");

    api.token = alice.token;
    const catalog = await readCatalog();
    expect(catalog.map((i) => i.id)).toContain("speed-boots");

    const boots = await buyFromStore("speed-boots", "soft", 1, newIdempotencyKey());
    expect(boots.balance).toBe(200);
    await buyFromStore("health-potion", "soft", 4, newIdempotencyKey());
    let inv = await readInventory(50, null);
    expect(inv.wallet.balances.soft).toBe(100);
    expect(inv.items.filter((i) => i.item_id === "health-potion")).toHaveLength(4);
    expect(inv.profile.eth_address).toBeNull();

    // A retried listing with its key is the same listing.
    const key = newIdempotencyKey();
    const listing = await createListing({ item: boots.items[0], currency: "soft", price: 150 }, key);
    expect((await createListing({ item: boots.items[0], currency: "soft", price: 150 }, key)).id).toBe(listing.id);
    const potions = await createListing({ item_type: "health-potion", quantity: 2, currency: "soft", price: 400 }, newIdempotencyKey());
    expect(potions.total).toBe(800);

    const found = await readListings(listingQuery({ ...EMPTY_FILTERS, item_type: "speed-boots", currency: "soft", sort: "price_asc" }, null, 20));
    const row = found.listings.find((l) => l.id === listing.id);
    expect(row).toMatchObject({ seller: alice.id, seller_name: "Alice", item_name: "Speed Boots", price: 150 });
    // Alice's two listings, a page of one at a time by the cursor
    const firstPage = await readListings({ seller: alice.id, sort: "newest", limit: 1 });
    expect(firstPage.listings).toHaveLength(1);
    expect(firstPage.next).toBeTruthy();
    const secondPage = await readListings({ seller: alice.id, sort: "newest", limit: 1, cursor: firstPage.next! });
    expect(secondPage.listings.map((l) => l.id)).not.toEqual(firstPage.listings.map((l) => l.id));
    expect(new Set([...firstPage.listings, ...secondPage.listings].map((l) => l.id))).toEqual(new Set([listing.id, potions.id]));
    expect(secondPage.next).toBeNull();

    // Withdrawing needs a linked wallet: the problem's detail says so.
    const unlinked = await refusal(withdrawItem(inv.items.find((i) => i.custody === "in_game")!.id, newIdempotencyKey()));
    expect([409, 503]).toContain(unlinked.status);

    api.token = bob.token;
    const poor = await refusal(buyListing(potions.id, newIdempotencyKey()));
    expect(poor.problem.code).toBe("insufficient-funds");
    expect(poor.problem.detail).toBeTruthy();
    const sale = await buyListing(listing.id, newIdempotencyKey());
    expect(sale.balance).toBe(350);
    const detail = await readListing(listing.id);
    expect(detail?.state).toBe("sold");
    expect(detail?.provenance[0].previous_owners).toEqual([alice.id]);
    expect(detail?.history).toHaveLength(1);
    expect(detail?.price_stats.soft?.last?.unit_price).toBe(150);
    expect(await readListing("0".repeat(32))).toBeNull();

    api.token = alice.token;
    await cancelListing(potions.id);
    const builder = await readTradeBuilder();
    const mine = builder.items.filter((i) => i.custody === "in_game").map((i) => i.id);
    expect(mine).toHaveLength(4);
    const trade = await offerTrade({ receiver_id: bob.id, offer: { items: mine.slice(0, 2) }, request: { currency: { soft: 10 } } }, newIdempotencyKey());
    expect(trade.state).toBe("open");
    const sent = await readTrades("sent", "open", null);
    expect(sent.trades.map((t) => t.trade_id)).toContain(trade.trade_id);

    api.token = bob.token;
    const inbox = await readTrades("received", "open", null);
    const got = inbox.trades.find((t) => t.trade_id === trade.trade_id)!;
    expect(got.offerer_name).toBe("Alice");
    expect(got.offer.items).toHaveLength(2);
    expect(got.request.currency).toEqual({ soft: 10 });
    const moveKey = newIdempotencyKey();
    expect((await moveTrade(trade.trade_id, "accept", moveKey)).state).toBe("accepted");
    expect((await moveTrade(trade.trade_id, "accept", moveKey)).state).toBe("accepted"); // a retry answers the same

    api.token = alice.token;
    let wallet = await readWalletView();
    expect(wallet.packs.length).toBeGreaterThan(0);
    const payment = await checkout(wallet.packs[0].id, newIdempotencyKey());
    expect(payment.state).toBe("pending");
    expect(checkoutHref(payment)).toBe(`/api/commerce/v1/payments/sandbox/${payment.payment_id}`);
    const page = await fetch(`${base}${checkoutHref(payment)}`);
    expect(page.status).toBe(200);
    await paySandbox(payment.payment_id);
    wallet = await readWalletView();
    expect(wallet.payments.find((p) => p.payment_id === payment.payment_id)?.state).toBe("paid");
    expect(wallet.wallet.balances.premium).toBe(wallet.packs[0].premium);
    expect(wallet.wallet.balances.soft).toBe(100 + 150 - 7 + 10); // the sale less the 5 % fee, and the trade
    const ledger = await getLedger(20);
    expect(ledger.map((e) => e.kind)).toEqual(expect.arrayContaining(["payment", "market_sale", "trade", "purchase"]));

    const challenge = await walletChallenge("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
    expect(challenge.message).toContain("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2");
    inv = await readInventory(50, null);
    expect(inv.items.filter((i) => i.custody === "in_game")).toHaveLength(2);
  });
});
