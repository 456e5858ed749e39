// The operator console as rendered (jsdom, no services running: every read finds them unreachable),
// checked for the conventions the browser tests rely on and by axe.
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { Provider } from "react-redux";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import axe from "axe-core";
import { makeStore } from "../src/store";
import { accountsLoaded, serversLoaded } from "../src/features/ops/opsSlice";
import { operatorToken } from "../src/features/session/sessionSlice";
import { OpsConsole } from "../src/pages/ops";

async function serious(container: HTMLElement): Promise<string[]> {
  const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`);
}

const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
function token(scope: string, exp = Date.now() / 1000 + 600): string {
  return `${b64({ alg: "EdDSA", typ: "JWT" })}.${b64({ sub: "ops-ada", aud: "elysium:service", scope, exp })}.c2lnbmF0dXJl`;
}

function mount(path: string, store = makeStore()) {
  const view = render(
    <Provider store={store}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path="/ops/*" element={<OpsConsole />} />
        </Routes>
      </MemoryRouter>
    </Provider>,
  );
  return { ...view, store };
}

afterEach(() => {
  cleanup();
  globalThis.localStorage?.clear();
});

describe("operator console", () => {
  it("asks for a service token in a password field, refuses what is not one, and signs in with one", async () => {
    const { container, store } = mount("/ops");
    expect(screen.getAllByRole("heading", { level: 1 }).map((h) => h.textContent)).toEqual(["Operator console"]);
    const field = screen.getByLabelText("Service token") as HTMLInputElement;
    expect(field.type).toBe("password");
    expect(await serious(container)).toEqual([]);
    fireEvent.change(field, { target: { value: "not a token" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in to the console" }));
    expect(screen.getByRole("alert").textContent).toMatch(/not a service token/);
    expect(store.getState().session.serviceToken).toBeNull();
    fireEvent.change(field, { target: { value: token("commerce:admin", 1) } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in to the console" }));
    expect(screen.getByRole("alert").textContent).toMatch(/expired/);

    const good = token("commerce:admin matchmaker:admin");
    fireEvent.change(field, { target: { value: ` ${good} ` } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in to the console" }));
    expect(store.getState().session.serviceToken).toBe(good);
    await screen.findByRole("heading", { name: "Signed in" });
    expect(screen.getByText("ops-ada")).toBeTruthy();
    expect(screen.getByRole("alert").textContent).toMatch(/lacks gameserver:admin/); // the missing scope is named
    expect(screen.getByRole("navigation", { name: "Operator console" })).toBeTruthy();
    expect(await serious(container)).toEqual([]);
    fireEvent.click(screen.getByRole("button", { name: "Sign out of the console" }));
    expect(store.getState().session.serviceToken).toBeNull();
    expect(screen.getByLabelText("Service token")).toBeTruthy();
  }, 60_000);

  it("lists game servers, says the matchmaker is unreachable, and keeps what it had", async () => {
    const store = makeStore();
    store.dispatch(operatorToken(token("commerce:admin matchmaker:admin gameserver:admin")));
    store.dispatch(serversLoaded({ servers: [{ server_id: "local-1", http_url: "http://127.0.0.1:7350", ws_url: "ws://127.0.0.1:7350/v1/play",
      region: "local", modes: ["arena"], rooms: 1, players: 2, capacity: 100, draining: true, last_seen: Date.now() }] }));
    const { container } = mount("/ops/servers", store);
    expect(screen.getAllByRole("heading", { level: 1 }).map((h) => h.textContent)).toEqual(["Game servers"]);
    const row = screen.getByTestId("server-row");
    expect(within(row).getByText("local-1")).toBeTruthy();
    expect(within(row).getByText("draining")).toBeTruthy();
    await waitFor(() => expect(screen.getByRole("alert").textContent).toMatch(/unreachable/));
    expect(screen.getByTestId("server-row")).toBeTruthy();
    fireEvent.click(within(row).getByRole("button", { name: /Show rooms/ }));
    expect(screen.getByRole("heading", { name: /Rooms of/ })).toBeTruthy();
    expect(await serious(container)).toEqual([]);
  }, 60_000);

  it("accounts: labelled search, a row opens the ban and grant forms, and a grant needs a whole amount", async () => {
    const store = makeStore();
    store.dispatch(operatorToken(token("commerce:admin")));
    store.dispatch(accountsLoaded({ query: "zed", next: null, accounts: [{ account_id: "a1", username: "zed", display_name: "Zed",
      guest: false, created_at: "2026-01-01T00:00:00Z", banned: null, muted: null }] }));
    const { container } = mount("/ops/accounts", store);
    expect(screen.getByRole("searchbox", { name: "Search accounts" })).toBeTruthy();
    fireEvent.click(within(screen.getByTestId("account-row")).getByRole("button", { name: /Manage/ }));
    expect(screen.getByRole("heading", { name: "Manage Zed" })).toBeTruthy();
    expect(screen.getByLabelText("Reason for the ban")).toBeTruthy();
    expect(screen.getByLabelText("How long")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Amount"), { target: { value: "2.5" } });
    fireEvent.change(screen.getByLabelText("Reason for the grant"), { target: { value: "sorry" } });
    fireEvent.click(screen.getByRole("button", { name: "Grant to Zed" }));
    expect(screen.getByRole("alert").textContent).toMatch(/whole number/);
    expect(store.getState().ops.pending).toEqual({}); // nothing was sent, no key kept
    expect(await serious(container)).toEqual([]);
  }, 60_000);
});
