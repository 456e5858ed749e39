import type { ToolOutcome } from "./butlerSlice";

// What a tool chip says while the butler uses a tool, and after.
const TOOL_WORDS: Record<string, [string, string]> = {
  get_wallet: ["Looking up your wallet", "Looked up your wallet"],
  get_inventory: ["Checking your inventory", "Checked your inventory"],
  search_catalog: ["Searching the store", "Searched the store"],
  search_market: ["Searching the market", "Searched the market"],
  explain_item: ["Looking up the item", "Looked up the item"],
  get_ticket: ["Checking your queue ticket", "Checked your queue ticket"],
  get_match_history: ["Reading your match history", "Read your match history"],
  get_rating: ["Looking up your rating", "Looked up your rating"],
  explain_rules: ["Reading the rules", "Read the rules"],
  queue_for_match: ["Preparing to queue you", "Queueing"],
  buy_listing: ["Checking the listing", "Checked the listing"],
  buy_from_store: ["Checking the store price", "Checked the store price"],
  list_item: ["Preparing the listing", "Prepared the listing"],
  offer_trade: ["Preparing the trade", "Prepared the trade"],
  withdraw_item: ["Preparing the withdrawal", "Prepared the withdrawal"],
};

/** The words of a tool chip: what the butler is doing, or did. */
export function toolLabel(tool: string, outcome: ToolOutcome): string {
  const [doing, done] = TOOL_WORDS[tool] ?? [`Using ${tool.replace(/_/g, " ")}`, `Used ${tool.replace(/_/g, " ")}`];
  switch (outcome) {
    case "running":
      return `${doing}…`;
    case "ok":
      return done;
    case "proposed":
      return `${done}: waiting for your confirmation`;
    default:
      return `${doing} failed`;
  }
}
