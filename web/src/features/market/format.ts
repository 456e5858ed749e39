/** Plain words and numbers for the market pages; the price chart's geometry. */
import type { Balances, CatalogItem, Currency, PricePoint } from "./types";

export const CURRENCY_NAMES: Record<Currency, string> = { soft: "coins", premium: "gems" };

const ONE: Record<Currency, string> = { soft: "coin", premium: "gem" };

export function money(amount: number, currency: Currency): string {
  const unit = amount === 1 ? ONE[currency] : CURRENCY_NAMES[currency];
  return `${amount.toLocaleString("en")} ${unit ?? currency}`;
}

export function balancesText(b: Balances): string {
  const parts = (Object.entries(b) as [Currency, number | undefined][])
    .filter(([, v]) => v !== undefined && v > 0)
    .map(([k, v]) => money(v as number, k));
  return parts.length ? parts.join(" and ") : "nothing";
}

/** Minor units of an ISO 4217 currency, e.g. 199 EUR → "€1.99". */
export function fiat(minor: number, currency: string): string {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).format(minor / 100);
  } catch {
    return `${(minor / 100).toFixed(2)} ${currency}`;
  }
}

export function shortId(id: string): string {
  return id.length > 10 ? `${id.slice(0, 8)}…` : id;
}

export function itemName(catalog: Record<string, CatalogItem>, type: string): string {
  return catalog[type]?.name ?? type;
}

export function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString("en", { dateStyle: "medium", timeStyle: "short" });
}

export const CUSTODY_NAMES: Record<string, string> = {
  in_game: "in the game", listed: "listed for sale", escrow: "held in a trade", withdrawing: "being withdrawn",
  on_chain: "on chain", held: "held",
};

/**
 * Item types the search box means: an exact id or name first, else names or ids starting with
 * the text, else containing it.
 */
export function matchItemTypes(q: string, catalog: Record<string, CatalogItem>): string[] {
  const t = q.trim().toLowerCase();
  if (!t) return [];
  const items = Object.values(catalog);
  const exact = items.filter((i) => i.id.toLowerCase() === t || i.name.toLowerCase() === t);
  if (exact.length) return exact.map((i) => i.id);
  const starts = items.filter((i) => i.id.toLowerCase().startsWith(t) || i.name.toLowerCase().startsWith(t));
  if (starts.length) return starts.map((i) => i.id);
  return items.filter((i) => i.id.toLowerCase().includes(t) || i.name.toLowerCase().includes(t)).map((i) => i.id);
}

export interface ChartGeometry {
  points: { x: number; y: number; price: number; at: string }[];
  path: string;
  min: number;
  max: number;
  yTicks: { y: number; price: number }[];
}

/** Where each sale of a price history sits in a `width` × `height` box with `pad` inside. */
export function chartGeometry(history: PricePoint[], width: number, height: number, pad = 32): ChartGeometry {
  const prices = history.map((p) => p.price);
  const min = prices.length ? Math.min(...prices) : 0;
  const max = prices.length ? Math.max(...prices) : 0;
  const times = history.map((p) => new Date(p.at).getTime());
  const t0 = times.length ? Math.min(...times) : 0;
  const t1 = times.length ? Math.max(...times) : 0;
  const span = (v: number, lo: number, hi: number) => (hi === lo ? 0.5 : (v - lo) / (hi - lo));
  const innerW = width - 2 * pad;
  const innerH = height - 2 * pad;
  const points = history.map((p, i) => ({
    x: pad + (history.length === 1 ? 0.5 : span(times[i], t0, t1)) * innerW,
    y: pad + (1 - span(p.price, min, max)) * innerH,
    price: p.price,
    at: p.at,
  }));
  const path = points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
  const yTicks = min === max ? [{ y: pad + innerH / 2, price: min }] : [
    { y: pad, price: max }, { y: pad + innerH, price: min },
  ];
  return { points, path, min, max, yTicks };
}

/** The chart said in words, for screen readers and as its caption. */
export function historySummary(history: PricePoint[], currency: Currency): string {
  if (!history.length) return "No sales of these items yet.";
  const prices = history.map((p) => p.price);
  const first = history[0];
  const last = history[history.length - 1];
  const n = history.length;
  const range = Math.min(...prices) === Math.max(...prices)
    ? `every one at ${money(first.price, currency)}`
    : `from ${money(Math.min(...prices), currency)} to ${money(Math.max(...prices), currency)}`;
  const trend = n < 2 ? "" : last.price > first.price ? ", rising" : last.price < first.price ? ", falling" : ", level";
  return `${n} sale${n === 1 ? "" : "s"} ${range}${trend}; the latest at ${money(last.price, currency)} on ${when(last.at)}.`;
}
