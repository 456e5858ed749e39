/** The market forms' plain rules: lots of an inventory, a trade side in words, a trade offer from its form. */
import type { TradeOffer } from "./commerce";
import { balancesText, itemName } from "./format";
import type { Balances, CatalogItem, OwnedItem, TradeSide } from "./types";

/** Stackable items of one type still in the game show as one lot; everything else item by item. */
export interface Lot { key: string; type: string; items: OwnedItem[]; custody: string; stackable: boolean }

export function groupItems(items: OwnedItem[], catalog: Record<string, CatalogItem>): Lot[] {
  const lots: Lot[] = [];
  const byType = new Map<string, Lot>();
  for (const it of items) {
    const stackable = !!catalog[it.item_id]?.stackable;
    if (stackable && it.custody === "in_game") {
      let lot = byType.get(it.item_id);
      if (!lot) {
        lot = { key: `lot:${it.item_id}`, type: it.item_id, items: [], custody: "in_game", stackable };
        byType.set(it.item_id, lot);
        lots.push(lot);
      }
      lot.items.push(it);
    } else {
      lots.push({ key: it.id, type: it.item_id, items: [it], custody: it.custody, stackable });
    }
  }
  return lots;
}

export function sideText(side: TradeSide, catalog: Record<string, CatalogItem>): string {
  const items = side.items.map((i) => itemName(catalog, i.item_id));
  const money = balancesText(side.currency);
  const parts = [...items, ...(money === "nothing" ? [] : [money])];
  return parts.length ? parts.join(", ") : "nothing";
}

const ITEM_ID = /^[0-9a-f]{32}$/;

export interface OfferForm {
  receiver: string; give: string[]; giveSoft: string; givePremium: string; ask: string; askSoft: string;
  askPremium: string; expires: number;
}

/** The offer as the API takes it, or what is wrong with the form (field → problem). */
export function buildOffer(form: OfferForm, me: string): { offer?: TradeOffer; problems: Record<string, string> } {
  const problems: Record<string, string> = {};
  const receiver = form.receiver.trim();
  if (!receiver) problems.receiver = "Choose a friend or enter a player id.";
  else if (receiver === me) problems.receiver = "You cannot trade with yourself.";
  const amount = (raw: string, field: string): number | undefined => {
    const t = raw.trim();
    if (!t) return undefined;
    if (!/^[0-9]{1,10}$/.test(t) || Number(t) > 1e9) { problems[field] = "Enter a whole amount up to 1,000,000,000."; return undefined; }
    return Number(t) || undefined;
  };
  const currency = (soft: string, premium: string, prefix: string): Balances | undefined => {
    const out: Balances = {};
    const s = amount(soft, `${prefix}Soft`);
    const p = amount(premium, `${prefix}Premium`);
    if (s) out.soft = s;
    if (p) out.premium = p;
    return Object.keys(out).length ? out : undefined;
  };
  const ask = [...new Set(form.ask.split(/[\s,]+/).map((x) => x.trim().toLowerCase()).filter(Boolean))];
  const bad = ask.filter((x) => !ITEM_ID.test(x));
  if (bad.length) problems.ask = `Not an item id: ${bad.slice(0, 3).join(", ")} (item ids are 32 hex digits).`;
  if (ask.length > 25) problems.ask = "Ask for at most 25 items.";
  if (form.give.length > 25) problems.give = "Offer at most 25 items.";
  const giveCurrency = currency(form.giveSoft, form.givePremium, "give");
  const askCurrency = currency(form.askSoft, form.askPremium, "ask");
  const offerSide = form.give.length || giveCurrency ? { ...(form.give.length ? { items: form.give } : {}), ...(giveCurrency ? { currency: giveCurrency } : {}) } : undefined;
  const requestSide = ask.length || askCurrency ? { ...(ask.length ? { items: ask } : {}), ...(askCurrency ? { currency: askCurrency } : {}) } : undefined;
  if (!offerSide && !requestSide && !Object.keys(problems).some((k) => k !== "receiver")) problems.give = "Offer or ask for something.";
  if (Object.keys(problems).length) return { problems };
  return {
    problems,
    offer: { receiver_id: receiver, ...(offerSide ? { offer: offerSide } : {}), ...(requestSide ? { request: requestSide } : {}), expires_in_s: form.expires },
  };
}

