import { describe, expect, it } from "vitest";
import reducer, {
  actionDone, checkoutOpened, checkoutSettled, filterProblems, filtersChanged, filtersReset, initialMarketState, keyIssued,
  listingQuery, nextPage, pageRead, previousPage, EMPTY_FILTERS,
} from "../src/features/market/marketSlice";
import { buildOffer, groupItems, sideText } from "../src/features/market/forms";
import { chartGeometry, historySummary, matchItemTypes } from "../src/features/market/format";
import { checkoutHref, historyFromProvenance } from "../src/features/market/commerce";
import type { CatalogItem, OwnedItem, Payment } from "../src/features/market/types";

const catalog: Record<string, CatalogItem> = {
  "health-potion": { id: "health-potion", name: "Health Potion", rarity: "common", stackable: true, tradeable: true, price: { soft: 25 } },
  "speed-boots": { id: "speed-boots", name: "Speed Boots", rarity: "uncommon", stackable: false, tradeable: true, price: { soft: 300, premium: 30 } },
  "arena-banner": { id: "arena-banner", name: "Arena Banner", rarity: "rare", stackable: false, tradeable: true, price: { premium: 120 } },
};

describe("market search state", () => {
  it("walks pages forward by the cursors the API gave and back again", () => {
    let s = reducer(undefined, { type: "init" });
    expect(s.cursors).toEqual([null]);
    s = reducer(s, pageRead({ page: 0, next: "c1" }));
    expect(s.cursors).toEqual([null, "c1"]);
    s = reducer(s, nextPage());
    expect(s.page).toBe(1);
    s = reducer(s, pageRead({ page: 1, next: null }));
    s = reducer(s, nextPage()); // the last page: nowhere to go
    expect(s.page).toBe(1);
    s = reducer(s, previousPage());
    expect(s.page).toBe(0);
    s = reducer(s, previousPage());
    expect(s.page).toBe(0);
    // reading page 0 again keeps the cursor to page 1 and drops nothing else
    s = reducer(s, pageRead({ page: 0, next: "c1" }));
    expect(s.cursors).toEqual([null, "c1"]);
  });

  it("ignores the answer to a page it has left", () => {
    let s = reducer(undefined, pageRead({ page: 0, next: "c1" }));
    s = reducer(s, nextPage());
    s = reducer(s, pageRead({ page: 0, next: "other" }));
    expect(s.cursors).toEqual([null, "c1"]);
    expect(s.page).toBe(1);
  });

  it("starts from the first page when the filters change, since a cursor belongs to one sort and filter set", () => {
    let s = reducer(undefined, pageRead({ page: 0, next: "c1" }));
    s = reducer(s, nextPage());
    s = reducer(s, filtersChanged({ currency: "soft", sort: "price_asc" }));
    expect(s.page).toBe(0);
    expect(s.cursors).toEqual([null]);
    expect(s.filters.sort).toBe("price_asc");
    s = reducer(s, filtersReset());
    expect(s.filters).toEqual(EMPTY_FILTERS);
  });

  it("asks for a currency before a price range or a price order, and whole prices", () => {
    expect(filterProblems({ ...EMPTY_FILTERS, min_price: "10" }).min_price).toMatch(/currency/);
    expect(filterProblems({ ...EMPTY_FILTERS, sort: "price_desc" }).sort).toMatch(/currency/);
    expect(filterProblems({ ...EMPTY_FILTERS, currency: "soft", min_price: "2.5" }).min_price).toMatch(/whole/);
    expect(filterProblems({ ...EMPTY_FILTERS, currency: "soft", min_price: "50", max_price: "10" }).max_price).toMatch(/below/);
    expect(filterProblems({ ...EMPTY_FILTERS, currency: "soft", min_price: "10", max_price: "50", sort: "price_asc" })).toEqual({});
  });

  it("builds the listing query with only the filters set, and the cursor", () => {
    expect(listingQuery(EMPTY_FILTERS, null, 20)).toEqual({ sort: "newest", limit: 20 });
    expect(listingQuery({ ...EMPTY_FILTERS, item_type: "speed-boots", currency: "premium", min_price: "5", max_price: "", sort: "price_asc" }, "abc", 10))
      .toEqual({ sort: "price_asc", limit: 10, item_type: "speed-boots", currency: "premium", min_price: 5, cursor: "abc" });
    // a price bound without a currency is never sent
    expect(listingQuery({ ...EMPTY_FILTERS, min_price: "5" }, null, 10)).toEqual({ sort: "newest", limit: 10 });
  });
});

describe("idempotency keys of market actions", () => {
  it("keeps the first key of an action for its retries and forgets it once the action succeeded", () => {
    let s = reducer(undefined, keyIssued({ action: "buy:L1", key: "k1" }));
    s = reducer(s, keyIssued({ action: "buy:L1", key: "k2" })); // a retry must not replace it
    expect(s.keys["buy:L1"]).toBe("k1");
    s = reducer(s, keyIssued({ action: "buy:L2", key: "k3" }));
    s = reducer(s, actionDone("buy:L1"));
    expect(s.keys).toEqual({ "buy:L2": "k3" });
  });
});

describe("pending checkout", () => {
  it("remembers the payment awaited across a reload of the tab, until it settles", () => {
    let s = reducer(undefined, checkoutOpened("cs_1"));
    expect(s.pendingPayment).toBe("cs_1");
    expect(initialMarketState().pendingPayment).toBe("cs_1");
    s = reducer(s, checkoutSettled());
    expect(s.pendingPayment).toBeNull();
    expect(initialMarketState().pendingPayment).toBeNull();
  });

  it("opens a sandbox checkout through the one origin, and only https pages of other providers", () => {
    const p: Payment = { payment_id: "cs_sb_1", provider: "sandbox", pack_id: "premium-100", premium: 100, price: 199,
      currency: "EUR", state: "pending", checkout_url: "http://127.0.0.1:7380/v1/payments/sandbox/cs_sb_1", created_at: "", paid_at: null };
    expect(checkoutHref(p)).toBe("/api/commerce/v1/payments/sandbox/cs_sb_1");
    expect(checkoutHref({ ...p, provider: "stripe", checkout_url: "https://checkout.stripe.com/c/x" })).toBe("https://checkout.stripe.com/c/x");
    expect(checkoutHref({ ...p, provider: "stripe", checkout_url: "javascript:alert(1)" })).toBeNull();
    expect(checkoutHref({ ...p, checkout_url: null })).toBeNull();
  });
});

describe("the search box", () => {
  it("finds item types by exact name or id first, then by the start, then anywhere", () => {
    expect(matchItemTypes("speed boots", catalog)).toEqual(["speed-boots"]);
    expect(matchItemTypes("arena", catalog)).toEqual(["arena-banner"]);
    expect(matchItemTypes("potion", catalog)).toEqual(["health-potion"]);
    expect(matchItemTypes("dragon", catalog)).toEqual([]);
    expect(matchItemTypes("  ", catalog)).toEqual([]);
  });
});

describe("price history", () => {
  const history = [
    { at: "2026-12-01T10:00:00+00:00", price: 100 },
    { at: "2026-12-01T12:00:00+00:00", price: 300 },
    { at: "2026-12-01T14:00:00+00:00", price: 200 },
  ];

  it("places the cheapest sale lowest and the first sale leftmost", () => {
    const g = chartGeometry(history, 500, 200, 20);
    expect(g.points[0].x).toBe(20);
    expect(g.points[2].x).toBe(480);
    expect(g.points[0].y).toBe(180); // the lowest price at the bottom
    expect(g.points[1].y).toBe(20); // the highest at the top
    expect(g.path.startsWith("M20.0,180.0 L")).toBe(true);
    expect(g.min).toBe(100);
    expect(g.max).toBe(300);
  });

  it("draws one sale in the middle, and says it in words", () => {
    const g = chartGeometry([history[0]], 500, 200, 20);
    expect(g.points[0]).toMatchObject({ x: 250, y: 100 });
    expect(historySummary([history[0]], "soft")).toMatch(/^1 sale every one at 100 coins; the latest at 100 coins/);
    expect(historySummary(history, "premium")).toMatch(/^3 sales from 100 gems to 300 gems, rising; the latest at 200 gems/);
    expect(historySummary([], "soft")).toBe("No sales of these items yet.");
  });

  it("takes each sale of a lot once, in the listing's currency, oldest first", () => {
    const sale = (price: number, at: string, currency: "soft" | "premium" = "soft") => ({ price, currency, at });
    const h = historyFromProvenance([
      { item: "a", origin: "purchase", previous_owners: ["x", "y"], sales: [sale(50, "2026-12-01T12:00:00"), sale(20, "2026-12-01T09:00:00")] },
      { item: "b", origin: "purchase", previous_owners: ["x"], sales: [sale(50, "2026-12-01T12:00:00"), sale(7, "2026-12-01T13:00:00", "premium")] },
    ], "soft");
    expect(h).toEqual([{ at: "2026-12-01T09:00:00", price: 20 }, { at: "2026-12-01T12:00:00", price: 50 }]);
  });

  it("adds the latest sale of the item type once", () => {
    const prov = [{ item: "a", origin: "purchase", previous_owners: ["x"], sales: [{ price: 50, currency: "soft" as const, at: "2026-12-01T12:00:00" }] }];
    expect(historyFromProvenance(prov, "soft", { unit_price: 70, at: "2026-12-02T08:00:00" })).toEqual([
      { at: "2026-12-01T12:00:00", price: 50 }, { at: "2026-12-02T08:00:00", price: 70 },
    ]);
    expect(historyFromProvenance(prov, "soft", { unit_price: 50, at: "2026-12-01T12:00:00" })).toHaveLength(1);
    expect(historyFromProvenance([], "soft", null)).toEqual([]);
  });
});

describe("inventory lots and trade terms", () => {
  const item = (id: string, type: string, custody: OwnedItem["custody"] = "in_game"): OwnedItem =>
    ({ id, item_id: type, custody, created_at: "2026-12-01T10:00:00+00:00" });

  it("groups stackable items in the game by type and keeps every other item apart", () => {
    const lots = groupItems([
      item("1", "health-potion"), item("2", "speed-boots"), item("3", "health-potion"), item("4", "health-potion", "listed"),
    ], catalog);
    expect(lots.map((l) => [l.type, l.items.map((i) => i.id), l.custody])).toEqual([
      ["health-potion", ["1", "3"], "in_game"], ["speed-boots", ["2"], "in_game"], ["health-potion", ["4"], "listed"],
    ]);
  });

  it("says a trade side in words", () => {
    expect(sideText({ items: [{ id: "1", item_id: "speed-boots" }], currency: { soft: 50 } }, catalog)).toBe("Speed Boots, 50 coins");
    expect(sideText({ items: [], currency: {} }, catalog)).toBe("nothing");
  });

  const form = { receiver: "b".repeat(32), give: ["c".repeat(32)], giveSoft: "", givePremium: "5", ask: "", askSoft: "100",
    askPremium: "", expires: 3600 };

  it("builds an offer with only the parts given", () => {
    expect(buildOffer(form, "a".repeat(32))).toEqual({
      problems: {},
      offer: { receiver_id: "b".repeat(32), offer: { items: ["c".repeat(32)], currency: { premium: 5 } },
        request: { currency: { soft: 100 } }, expires_in_s: 3600 },
    });
    const asked = buildOffer({ ...form, give: [], givePremium: "", askSoft: "", ask: `${"D".repeat(32)}\n${"d".repeat(32)}, ` }, "a");
    expect(asked.offer).toEqual({ receiver_id: "b".repeat(32), request: { items: ["d".repeat(32)] }, expires_in_s: 3600 });
  });

  it("refuses an offer to oneself, an empty one, bad amounts and bad item ids, naming the field", () => {
    expect(buildOffer({ ...form, receiver: "me" }, "me").problems.receiver).toMatch(/yourself/);
    expect(buildOffer({ ...form, receiver: " " }, "me").problems.receiver).toMatch(/friend/);
    expect(buildOffer({ ...form, give: [], givePremium: "", askSoft: "" }, "me").problems.give).toMatch(/something/);
    expect(buildOffer({ ...form, givePremium: "1.5" }, "me").problems.givePremium).toMatch(/whole/);
    expect(buildOffer({ ...form, askSoft: "2000000000" }, "me").problems.askSoft).toMatch(/whole/);
    expect(buildOffer({ ...form, ask: "sword" }, "me").problems.ask).toMatch(/sword/);
    expect(buildOffer({ ...form, ask: "sword" }, "me").offer).toBeUndefined();
  });
});
