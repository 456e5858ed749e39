// The game page (jsdom): without a match it points to the lobby; with one it joins with the
// assignment's token, plays the frames of a real arena room, moves the predicted player with
// the keyboard, shows the scoreboard, team chat and the result, and passes axe.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { Provider } from "react-redux";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import axe from "axe-core";
import { encodeJoin } from "@elysium/sdk";
import { makeStore } from "../src/store";
import { assignmentSet, type Assignment } from "../src/features/arena/arenaSlice";
import { GamePage } from "../src/pages/arena";
import { cameraOf } from "../src/pages/arena/game";
import { aimOf, FpsMeter, moveOf } from "../src/pages/arena/game/controls";
import type { WorldView } from "@elysium/sdk";
import { FakeSocket, fromHex } from "../sdk/test/fakesocket";
import fixtures from "../sdk/test/fixtures/frames.json";

const frames = fixtures.frames.map((f) => fromHex(f.hex));
const firstRunning = fixtures.frames.findIndex((f) => f.decoded.t === "delta" && (f.decoded.n as number) >= 1);

async function serious(container: HTMLElement): Promise<string[]> {
  const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`);
}

const assignment: Assignment = {
  matchId: "fixture-1", wsUrl: "ws://127.0.0.1:7350/v1/play", joinToken: "join-token-1", joinTokenExpiresMs: Date.now() + 60000,
  mode: "duel", serverId: "srv-1", region: "local", team: 0, roster: [["p-alice", 0], ["p-bob", 0]], ticketId: "t-1", game: null,
};

function mount(store = makeStore()) {
  return render(
    <Provider store={store}>
      <MemoryRouter initialEntries={["/arena/play"]}>
        <Routes>
          <Route path="/arena/play" element={<GamePage />} />
          <Route path="/arena" element={<main id="main"><h1>Arena</h1></main>} />
        </Routes>
      </MemoryRouter>
    </Provider>,
  );
}

beforeEach(() => {
  FakeSocket.made = [];
  vi.stubGlobal("WebSocket", FakeSocket);
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("game page", () => {
  it("without a match says so and links to the lobby", async () => {
    const { container } = mount();
    expect(screen.getAllByRole("heading", { level: 1 })).toHaveLength(1);
    expect(container.textContent).toContain("No match — go to the lobby");
    expect(screen.getByRole("link", { name: "go to the lobby" }).getAttribute("href")).toBe("/arena");
    expect(screen.queryByTestId("game-canvas")).toBeNull();
    expect(await serious(container)).toEqual([]);
  });

  it("plays the handed-over match on the canvas", async () => {
    const store = makeStore();
    store.dispatch(assignmentSet(assignment));
    const { container } = mount(store);
    await waitFor(() => expect(FakeSocket.made.length).toBe(1));
    const ws = FakeSocket.made[0];
    expect(ws.url).toBe(assignment.wsUrl);
    act(() => ws.open());
    expect(ws.sent[0]).toEqual(encodeJoin({ token: "join-token-1" }));
    act(() => {
      for (const f of frames.slice(0, firstRunning + 2)) ws.deliver(f);
    });
    const canvas = screen.getByTestId("game-canvas");
    expect(canvas.tagName).toBe("CANVAS");
    await waitFor(() => expect(canvas.getAttribute("data-self-x")).not.toBe(""));
    await waitFor(() => expect(screen.getByTestId("game-status").textContent).toMatch(/Match running/));
    const board = screen.getByRole("table", { name: "Scoreboard" });
    await waitFor(() => expect(within(board).getAllByTestId("score-row").map((r) => r.querySelector("th")!.textContent)).toEqual(["Alice (you)", "Bob"]));

    // Held D moves the player right: the next inputs carry move_x 1 and the prediction moves.
    const x0 = Number(canvas.getAttribute("data-self-x"));
    fireEvent.keyDown(window, { key: "d", code: "KeyD" });
    await waitFor(() => {
      const inputs = ws.messages().filter((m) => m.t === "input") as { i: unknown[][] }[];
      expect(inputs.some((m) => m.i.some((r) => r[1] === 1))).toBe(true);
    });
    await waitFor(() => expect(Number(canvas.getAttribute("data-self-x"))).toBeGreaterThan(x0 + 1));
    fireEvent.keyUp(window, { key: "d", code: "KeyD" });

    // Team chat goes out on the game socket.
    fireEvent.change(screen.getByLabelText("Message"), { target: { value: "gl hf" } });
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(ws.messages().filter((m) => m.t === "chat").map((m) => m.text)).toEqual(["gl hf"]);
    act(() => ws.deliver(fromHex(fixtures.extra[4].hex)));
    await waitFor(() => expect(screen.getByTestId("chat-log").textContent).toContain("nice shot"));

    // The rest of the match: hits, deaths, the end and its result.
    act(() => {
      for (const f of frames.slice(firstRunning + 2)) ws.deliver(f);
    });
    const result = await screen.findByTestId("match-result");
    expect(result.textContent).toContain("the score limit was reached");
    expect(result.textContent).toContain("You placed 1 of 2");
    act(() => ws.serverClose(1000, "match over"));
    await waitFor(() => expect(screen.getByRole("button", { name: "Back to the lobby" })).toBeTruthy());
    expect(screen.getAllByRole("heading", { level: 1 })).toHaveLength(1);
    expect(await serious(container)).toEqual([]);
  });

  it("a refused join is shown as an alert in the server's words", async () => {
    const store = makeStore();
    store.dispatch(assignmentSet({ ...assignment, ticketId: "" }));
    mount(store);
    await waitFor(() => expect(FakeSocket.made.length).toBe(1));
    const ws = FakeSocket.made[0];
    act(() => ws.open());
    act(() => {
      ws.deliver(fromHex(fixtures.extra[3].hex)); // token_rejected
      ws.serverClose(1008, "token_rejected");
    });
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe("token_expired: the join token expired"));
  });
});

describe("game page controls and camera", () => {
  it("held keys make a movement vector; opposite keys cancel", () => {
    expect(moveOf(new Set(["KeyD"]))).toEqual({ moveX: 1, moveY: 0 });
    expect(moveOf(new Set(["KeyW", "ArrowLeft"]))).toEqual({ moveX: -1, moveY: -1 });
    expect(moveOf(new Set(["KeyA", "KeyD", "ArrowDown"]))).toEqual({ moveX: 0, moveY: 1 });
    expect(aimOf(0, 0, 0, 10)).toBeCloseTo(Math.PI / 2, 9);
  });

  it("counts frames once a second", () => {
    const m = new FpsMeter();
    let updates = 0;
    for (let i = 0; i <= 60; i++) if (m.frame(i * (1000 / 60) + 0.001 * i)) updates += 1; // 60 frames in just over a second
    expect(updates).toBe(1);
    expect(m.fps).toBeGreaterThanOrEqual(59);
    expect(m.fps).toBeLessThanOrEqual(61);
  });

  it("the camera follows the player but keeps the map filling the view", () => {
    const view = {
      map: { width_cm: 6400, height_cm: 6400 }, followSeat: 0,
      players: [{ seat: 0, x: 6350, y: 3200 }],
    } as unknown as WorldView;
    const cam = cameraOf(view, { width: 600, height: 600, follow: true, spanM: 30 });
    expect(cam.scale).toBeCloseTo(0.2, 9);
    expect(cam.ox).toBeCloseTo(600 - 6400 * 0.2, 9); // the map's right edge at the view's right edge
    expect(cam.oy).toBeCloseTo(300 - 3200 * 0.2, 9); // centred where the map allows
    const whole = cameraOf(view, { width: 600, height: 300, follow: false });
    expect(whole.scale).toBeCloseTo(300 / 6400, 9);
    expect(whole.ox).toBeCloseTo((600 - 300) / 2, 9);
  });
});
