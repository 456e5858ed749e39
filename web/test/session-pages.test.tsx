// The shell (navbar, footer) and the account and butler pages as rendered (jsdom, no services
// running: the real client finds them unreachable), checked for the conventions the browser
// tests rely on and by axe.
import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, configure, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { Provider } from "react-redux";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import axe from "axe-core";
import { makeStore } from "../src/store";
import { Footer } from "../src/components/Footer";
import { Navbar } from "../src/components/Navbar";
import { deviceId, operatorToken, profileLoaded, signedIn, signedOut } from "../src/features/session/sessionSlice";
import { conversationsLoaded, streamEvent, turnStarted } from "../src/features/butler/butlerSlice";
import { HomePage } from "../src/pages/home";
import { LoginPage, PlayerPage, ProfilePage, RegisterPage, SettingsPage } from "../src/pages/auth";
import { ButlerPage, ButlerSettingsPage } from "../src/pages/butler";

// axe over a whole page takes seconds on a busy machine.
vi.setConfig({ testTimeout: 30_000 });
configure({ asyncUtilTimeout: 5_000 });

async function serious(container: HTMLElement): Promise<string[]> {
  // jsdom cannot compute colours, so contrast is the browser tests' to check.
  const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`);
}

function mount(path: string, page: React.ReactElement, store = makeStore()) {
  return {
    store,
    ...render(
      <Provider store={store}>
        <MemoryRouter initialEntries={[path]}>
          <Navbar />
          <Routes>
            <Route path="/players/:playerId" element={page} />
            <Route path="*" element={page} />
          </Routes>
          <Footer />
        </MemoryRouter>
      </Provider>,
    ),
  };
}

function signedInStore() {
  const store = makeStore();
  store.dispatch(signedIn({ account_id: "a1", access_token: "t", refresh_token: "r".repeat(32), expires_in: 900 }));
  store.dispatch(profileLoaded({
    account_id: "a1", username: "ann", display_name: "Ann", avatar_url: null, region: null, settings: {}, roles: [],
    guest: false, eth_address: null, created_at: "2026-01-01T00:00:00+00:00",
  }));
  return store;
}

afterEach(() => {
  cleanup();
  makeStore().dispatch(signedOut()); // the stored session must not leak into the next test
  localStorage.clear();
});

describe("the shell", () => {
  it("signed out: sign-in links, no Ops link, the footer says the status is unavailable", async () => {
    const { container } = mount("/", <HomePage />);
    const nav = screen.getByRole("navigation", { name: "Main" });
    for (const name of ["Arena", "Watch", "Market", "Inventory", "Trades", "Butler"]) expect(within(nav).getByRole("link", { name })).toBeTruthy();
    expect(within(nav).queryByRole("link", { name: "Ops" })).toBeNull();
    expect(screen.getAllByRole("link", { name: "Sign in" }).length).toBeGreaterThan(0);
    expect(screen.getByRole("link", { name: "Play now" }).getAttribute("href")).toBe("/arena");
    await waitFor(() => expect(screen.getByText("Status unavailable")).toBeTruthy());
    await waitFor(() => expect(screen.getByText("Live activity is unavailable right now.")).toBeTruthy());
    expect(screen.getAllByRole("heading", { level: 1 })).toHaveLength(1);
    expect(await serious(container)).toEqual([]);
  });

  it("signed in: the account menu opens and closes with the keyboard; Ops shows with an operator token", async () => {
    const store = signedInStore();
    store.dispatch(operatorToken("svc"));
    const { container } = mount("/", <HomePage />, store);
    expect(within(screen.getByRole("navigation", { name: "Main" })).getByRole("link", { name: "Ops" })).toBeTruthy();
    const menu = screen.getByRole("button", { name: /Ann/ });
    expect(menu.getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(menu);
    expect(menu.getAttribute("aria-expanded")).toBe("true");
    expect(screen.getByRole("link", { name: "Profile" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "Sign out" })).toBeTruthy();
    fireEvent.keyDown(document, { key: "Escape" });
    expect(menu.getAttribute("aria-expanded")).toBe("false");
    expect(document.activeElement).toBe(menu);
    const toggle = screen.getByRole("button", { name: "Menu" });
    fireEvent.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Welcome back, Ann");
    expect(await serious(container)).toEqual([]);
  });

  it("signing out forgets the session even when commerce is unreachable", async () => {
    const store = signedInStore();
    mount("/", <HomePage />, store);
    fireEvent.click(screen.getByRole("button", { name: /Ann/ }));
    fireEvent.click(screen.getByRole("button", { name: "Sign out" }));
    await waitFor(() => expect(store.getState().session.accessToken).toBeNull());
    expect(store.getState().session.profile).toBeNull();
    await waitFor(() => expect(screen.getAllByRole("link", { name: "Sign in" }).length).toBeGreaterThan(0));
  });
});

describe("account pages", () => {
  it("login: labelled fields, and an unreachable store said plainly", async () => {
    const { container } = mount("/login", <LoginPage />);
    expect(screen.getByRole("heading", { level: 1, name: "Sign in" })).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: "ann" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "secret secret" } });
    fireEvent.submit(screen.getByRole("button", { name: "Sign in" }).closest("form")!);
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe("The store is unreachable"));
    expect(await serious(container)).toEqual([]);
  });

  it("guest play keeps one device id for this browser and says when the store is unreachable", async () => {
    mount("/", <HomePage />);
    fireEvent.click(screen.getByRole("button", { name: "Play as a guest" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe("The store is unreachable"));
    const id = localStorage.getItem("elysium.device");
    expect(id).toMatch(/^[A-Za-z0-9_-]{16,128}$/);
    expect(deviceId()).toBe(id);
  });

  it("register: a password repeated wrong is caught before anything is sent", async () => {
    const { container } = mount("/register", <RegisterPage />);
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: "ann" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "one password" } });
    fireEvent.change(screen.getByLabelText("Repeat the password"), { target: { value: "another one" } });
    fireEvent.submit(screen.getByRole("button", { name: "Create account" }).closest("form")!);
    expect(screen.getByText("The two passwords differ")).toBeTruthy();
    expect(screen.getByLabelText("Repeat the password").getAttribute("aria-invalid")).toBe("true");
    expect(screen.queryByRole("alert")).toBeNull();
    expect(await serious(container)).toEqual([]);
  });

  it("profile, settings and a player's page ask a signed-out visitor to sign in", () => {
    for (const [path, page] of [["/profile", <ProfilePage />], ["/settings", <SettingsPage />], ["/players/p1", <PlayerPage />],
      ["/butler", <ButlerPage />], ["/butler/settings", <ButlerSettingsPage />]] as const) {
      mount(path, page);
      expect(screen.getAllByRole("heading", { level: 1 })).toHaveLength(1);
      expect(screen.getAllByRole("link", { name: "Sign in" }).length).toBeGreaterThan(1);
      cleanup();
    }
  });

  it("profile and settings render for a signed-in player and pass axe", async () => {
    let { container } = mount("/profile", <ProfilePage />, signedInStore());
    expect(screen.getByRole("heading", { level: 1, name: "Your profile" })).toBeTruthy();
    expect((screen.getByLabelText("Display name") as HTMLInputElement).value).toBe("Ann");
    await waitFor(() => expect(screen.getAllByRole("alert")[0].textContent).toBe("The store is unreachable"));
    expect(await serious(container)).toEqual([]);
    cleanup();
    ({ container } = mount("/settings", <SettingsPage />, signedInStore()));
    expect(screen.getByLabelText("Current password")).toBeTruthy();
    expect(screen.getByLabelText("New password")).toBeTruthy();
    expect(await serious(container)).toEqual([]);
  });
});

describe("the butler page", () => {
  it("shows the transcript, tool chips and a proposal card with its terms, and passes axe", async () => {
    const store = signedInStore();
    store.dispatch(turnStarted("buy a potion"));
    for (const [event, data] of [
      ["conversation", { id: "0123456789abcdef01234567" }],
      ["tool_start", { call_id: "c1", tool: "buy_from_store", arguments: {} }],
      ["tool_end", { call_id: "c1", tool: "buy_from_store", outcome: "proposed", result: null }],
      ["proposal", { id: "p1", tool: "buy_from_store", category: "spend", terms: { item_id: "health-potion", total: 25 }, summary: "Buy 1 x Health Potion for 25 soft", expires_at: new Date(Date.now() + 5 * 60_000).toISOString() }],
      ["text", { delta: "Confirm it in the app." }],
      ["done", { message: "Confirm it in the app.", usage: { prompt_tokens: 4, completion_tokens: 6 } }],
    ] as const) store.dispatch(streamEvent({ event, data }));
    const { container } = mount("/butler", <ButlerPage />, store);
    expect(screen.getByRole("heading", { level: 1, name: "Butler" })).toBeTruthy();
    expect(screen.getByTestId("tool-chip").textContent).toBe("Checked the store price: waiting for your confirmation");
    const card = screen.getByTestId("proposal-card");
    expect(within(card).getByText("health-potion")).toBeTruthy();
    expect(within(card).getByRole("button", { name: "Confirm" })).toBeTruthy();
    expect(screen.getByTestId("token-usage").textContent).toContain("Tokens this visit: 10");
    expect(screen.getByLabelText("Message")).toBeTruthy();
    expect(await serious(container)).toEqual([]);
    // Confirming with the butler unreachable leaves the proposal open to try again, and says why.
    fireEvent.click(within(card).getByRole("button", { name: "Confirm" }));
    await waitFor(() => expect(within(card).getByRole("alert").textContent).toBe("The butler is unreachable"));
    expect(within(card).getByRole("button", { name: "Confirm" })).toBeTruthy();
    fireEvent.click(within(card).getByRole("button", { name: "Dismiss" }));
    expect(within(card).queryByRole("button", { name: "Confirm" })).toBeNull();
    expect(within(card).getByText("Dismissed.")).toBeTruthy();
  });

  it("deleting a conversation asks first, and Keep keeps it", () => {
    const store = signedInStore();
    store.dispatch(conversationsLoaded({ items: [{ id: "0123456789abcdef01234567", title: "my wallet", created_at: "", updated_at: "", messages: 2 }], next_cursor: null }));
    mount("/butler", <ButlerPage />, store);
    fireEvent.click(screen.getByRole("button", { name: "Delete conversation my wallet" }));
    const ask = screen.getByRole("group", { name: "Delete conversation my wallet?" });
    fireEvent.click(within(ask).getByRole("button", { name: "Keep" }));
    expect(screen.getByRole("button", { name: "my wallet" })).toBeTruthy();
    expect(store.getState().butler.conversations).toHaveLength(1);
  });

  it("an expired proposal offers no Confirm button", () => {
    const store = signedInStore();
    store.dispatch(turnStarted("buy"));
    store.dispatch(streamEvent({ event: "proposal", data: { id: "p9", tool: "buy_listing", category: "spend", terms: {}, summary: "Buy it", expires_at: "2020-01-01T00:00:00+00:00" } }));
    mount("/butler", <ButlerPage />, store);
    const card = screen.getByTestId("proposal-card");
    expect(within(card).queryByRole("button", { name: "Confirm" })).toBeNull();
    expect(within(card).getByText(/has expired/)).toBeTruthy();
  });

  it("a message sent with the butler unreachable ends the turn with the reason", async () => {
    const store = signedInStore();
    mount("/butler", <ButlerPage />, store);
    fireEvent.change(screen.getByLabelText("Message"), { target: { value: "hello" } });
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    await waitFor(() => expect(store.getState().butler.streaming).toBe(false));
    expect(screen.getByTestId("chat-user").textContent).toContain("hello");
    await waitFor(() => expect(screen.getAllByRole("alert").map((a) => a.textContent)).toContain("The butler is unreachable"));
  });
});
