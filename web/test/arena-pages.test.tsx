// The lobby and the spectator pages as rendered (jsdom, no services running: the real client
// finds them unreachable), checked for the conventions the browser tests rely on and by axe.
import { describe, expect, it } from "vitest";
import { render, screen, waitFor, within, cleanup } from "@testing-library/react";
import { Provider } from "react-redux";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import axe from "axe-core";
import { makeStore } from "../src/store";
import { queuesLoaded } from "../src/features/arena/arenaSlice";
import { ArenaLobby } from "../src/pages/arena";
import { LiveMatches, ReplayPage } from "../src/pages/spectate";

async function serious(container: HTMLElement): Promise<string[]> {
  // jsdom cannot compute colours, so contrast is the browser tests' to check.
  const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`);
}

function mount(path: string, routes: [string, React.ReactElement][], store = makeStore()) {
  return render(
    <Provider store={store}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          {routes.map(([p, el]) => (
            <Route key={p} path={p} element={el} />
          ))}
        </Routes>
      </MemoryRouter>
    </Provider>,
  );
}

describe("arena lobby page", () => {
  it("has one h1, labelled controls, says the matchmaker is unreachable, and passes axe", async () => {
    const store = makeStore();
    store.dispatch(queuesLoaded({ modes: [{ mode: "duel", players_waiting: 0, regions: {}, recent_matched_tickets: 0, wait_p50_s: null, wait_p90_s: null }] }));
    const { container } = mount("/arena", [["/arena", <ArenaLobby />]], store);
    expect(screen.getAllByRole("heading", { level: 1 })).toHaveLength(1);
    const quick = screen.getByRole("region", { name: "Quick play" });
    expect(within(quick).getByLabelText("Mode")).toBeTruthy();
    expect(within(quick).getByLabelText("Region")).toBeTruthy();
    // Signed out: playing waits for a sign-in.
    expect((within(quick).getByRole("button", { name: "Play" }) as HTMLButtonElement).disabled).toBe(true);
    const custom = screen.getByRole("region", { name: "Custom games" });
    expect(within(custom).getByLabelText("Players")).toBeTruthy();
    expect(within(custom).getByLabelText("Game code")).toBeTruthy();
    await waitFor(() => expect(within(quick).getByRole("alert").textContent).toBe("The matchmaker is unreachable"));
    expect(await serious(container)).toEqual([]);
    cleanup();
  }, 30_000);
});

describe("spectator pages", () => {
  it("the live list says the relay is unreachable and passes axe", async () => {
    const { container } = mount("/watch", [["/watch", <LiveMatches />]]);
    expect(screen.getByRole("heading", { level: 1, name: "Watch" })).toBeTruthy();
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe("The spectator relay is unreachable"));
    expect(await serious(container)).toEqual([]);
    cleanup();
  }, 30_000);

  it("the replay page has its seek bar, play and speeds, and passes axe", async () => {
    const { container } = mount("/replays/m1", [["/replays/:matchId", <ReplayPage />]]);
    expect(screen.getByRole("slider", { name: "Seek" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "0.5×" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "4×" })).toBeTruthy();
    expect(screen.getByTestId("watch-canvas")).toBeTruthy();
    expect(await serious(container)).toEqual([]);
    cleanup();
  }, 30_000);
});
