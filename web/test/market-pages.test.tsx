// The market pages as rendered (jsdom, no services running: the real client finds them
// unreachable), checked for the conventions the browser tests rely on and by axe.
import { afterEach, describe, expect, it } from "vitest";
import { act, cleanup, fireEvent, render, renderHook, screen, waitFor, within } from "@testing-library/react";
import { Provider } from "react-redux";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import axe from "axe-core";
import { makeStore } from "../src/store";
import { signedIn, signedOut } from "../src/features/session/sessionSlice";
import { InventoryPage, ListingPage, MarketPage, TradeNewPage, TradesPage, WalletPage } from "../src/pages/market";
import { PriceChart } from "../src/pages/market/PriceChart";
import { useKeyedAction } from "../src/pages/market/common";

async function serious(container: HTMLElement): Promise<string[]> {
  // jsdom cannot compute colours, so contrast is the browser's to check.
  const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`);
}

function mount(path: string, pattern: string, element: React.ReactElement, signed: boolean) {
  const store = makeStore();
  store.dispatch(signed
    ? signedIn({ account_id: "a".repeat(32), access_token: "t", refresh_token: "r".repeat(20), expires_in: 600 })
    : signedOut());
  return render(
    <Provider store={store}>
      <MemoryRouter initialEntries={[path]}>
        <Routes><Route path={pattern} element={element} /></Routes>
      </MemoryRouter>
    </Provider>,
  );
}

afterEach(() => {
  cleanup();
  localStorage.clear();
});

const UNREACHABLE = "The gateway is unreachable";

describe("market pages", () => {
  it("the marketplace has its labelled filters and pager, says the service is unreachable, and passes axe", async () => {
    const { container } = mount("/market", "/market", <MarketPage />, false);
    expect(screen.getAllByRole("heading", { level: 1 }).map((h) => h.textContent)).toEqual(["Marketplace"]);
    for (const label of ["Search items", "Item type", "Rarity", "Currency", "Lowest unit price", "Highest unit price", "Sort"]) {
      expect(screen.getByLabelText(label)).toBeTruthy();
    }
    expect((screen.getByRole("button", { name: "Next page" }) as HTMLButtonElement).disabled).toBe(true);
    await waitFor(() => expect(screen.getAllByRole("alert").map((a) => a.textContent)).toContain(UNREACHABLE));
    expect(await serious(container)).toEqual([]);
  });

  it("the marketplace refuses a price range without a currency and names the field", async () => {
    mount("/market", "/market", <MarketPage />, false);
    const min = screen.getByLabelText("Lowest unit price") as HTMLInputElement;
    fireEvent.change(min, { target: { value: "5" } });
    fireEvent.click(screen.getByRole("button", { name: "Search" }));
    await waitFor(() => expect(min.getAttribute("aria-invalid")).toBe("true"));
    expect(document.getElementById(min.getAttribute("aria-describedby") ?? "")?.textContent).toMatch(/currency/);
  });

  it("the listing page says it cannot load, and passes axe", async () => {
    const { container } = mount("/market/listings/abc", "/market/listings/:listingId", <ListingPage />, true);
    expect(screen.getAllByRole("heading", { level: 1 })).toHaveLength(1);
    await waitFor(() => expect(screen.getAllByRole("alert").map((a) => a.textContent)).toContain(UNREACHABLE));
    expect(await serious(container)).toEqual([]);
  });

  for (const [name, path, element] of [
    ["inventory", "/inventory", <InventoryPage />], ["trades", "/trades", <TradesPage />],
    ["trade builder", "/trades/new", <TradeNewPage />], ["wallet", "/wallet", <WalletPage />],
  ] as const) {
    it(`the ${name} page asks a visitor to sign in`, () => {
      mount(path, path, element, false);
      expect(screen.getAllByRole("heading", { level: 1 })).toHaveLength(1);
      expect(screen.getByRole("link", { name: "Sign in" }).getAttribute("href")).toBe("/login");
    });

    it(`the ${name} page, signed in, says the service is unreachable and passes axe`, async () => {
      const { container } = mount(path, path, element, true);
      expect(screen.getAllByRole("heading", { level: 1 })).toHaveLength(1);
      await waitFor(() => expect(screen.getAllByRole("alert").map((a) => a.textContent)).toContain(UNREACHABLE));
      expect(await serious(container)).toEqual([]);
    });
  }

  it("the trade builder labels every field and names the receiver problem", async () => {
    mount("/trades/new?to=" + "a".repeat(32), "/trades/new", <TradeNewPage />, true);
    for (const label of ["Player id", "Coins you give", "Gems you give", "Their item ids (one per line)", "Coins you ask for", "Gems you ask for", "Open for"]) {
      expect(screen.getByLabelText(label)).toBeTruthy();
    }
    fireEvent.click(screen.getByRole("button", { name: "Offer trade" }));
    const receiver = screen.getByLabelText("Player id");
    await waitFor(() => expect(receiver.getAttribute("aria-invalid")).toBe("true"));
    expect(document.getElementById(receiver.getAttribute("aria-describedby") ?? "")?.textContent).toMatch(/yourself/);
  });

  it("the wallet page says when no injected wallet is present", async () => {
    mount("/wallet", "/wallet", <WalletPage />, true);
    expect(screen.getByTestId("no-wallet").textContent).toMatch(/No injected wallet/);
  });
});

describe("price chart", () => {
  it("is an image named Price history with its facts in words, and passes axe", async () => {
    const { container } = render(<PriceChart currency="soft" history={[
      { at: "2026-12-01T10:00:00+00:00", price: 100 }, { at: "2026-12-01T12:00:00+00:00", price: 140 },
    ]} />);
    const img = screen.getByRole("img", { name: "Price history" });
    expect(within(img).getAllByText(/coins/).length).toBeGreaterThan(0);
    expect(container.querySelector("figcaption")?.textContent).toMatch(/^2 sales from 100 coins to 140 coins, rising/);
    expect(container.querySelectorAll("circle")).toHaveLength(2);
    expect(await serious(container)).toEqual([]);
  });

  it("says there were no sales instead of drawing an empty chart", () => {
    const { container } = render(<PriceChart currency="premium" history={[]} />);
    expect(container.querySelector("svg")).toBeNull();
    expect(screen.getByTestId("price-chart").textContent).toBe("No sales of these items yet.");
  });
});

describe("keyed actions", () => {
  it("send the same Idempotency-Key on every retry of an action until it succeeds, then a new one", async () => {
    const store = makeStore();
    const { result } = renderHook(() => useKeyedAction(), { wrapper: ({ children }) => <Provider store={store}>{children}</Provider> });
    const sent: string[] = [];
    const failing = (key: string) => { sent.push(key); return Promise.reject(new Error("commerce is unreachable")); };
    await act(async () => { await expect(result.current("buy:L1", failing)).rejects.toThrow(); });
    await act(async () => { await expect(result.current("buy:L1", failing)).rejects.toThrow(); });
    await act(async () => { await result.current("buy:L1", async (key) => { sent.push(key); return "sold"; }); });
    await act(async () => { await result.current("buy:L1", async (key) => { sent.push(key); return "sold"; }); });
    await act(async () => { await result.current("buy:L2", async (key) => { sent.push(key); return "sold"; }); });
    expect(sent[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.slice(0, 3)).toEqual([sent[0], sent[0], sent[0]]);
    expect(new Set([sent[0], sent[3], sent[4]]).size).toBe(3);
    expect(store.getState().market.keys).toEqual({});
  });
});
