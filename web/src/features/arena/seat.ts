/** Taking a seat in a custom game: the game and its ticket go to the store (the lobby follows the ticket). */
import { ApiError } from "@elysium/sdk";
import type { AppDispatch } from "../../store";
import { gameUpdated, ticketUpdated, type GameView } from "./arenaSlice";
import { getGame, getTicket, problemCode } from "./lobbyApi";

export async function seatIn(dispatch: AppDispatch, view: GameView): Promise<void> {
  dispatch(gameUpdated(view));
  if (view.ticket) dispatch(ticketUpdated(await getTicket(view.ticket)));
}

/**
 * When a request was refused because the caller already sits in a custom game (after a
 * reload, say), opens that game instead; whether it did.
 */
export async function openGameOf(dispatch: AppDispatch, exc: unknown): Promise<boolean> {
  const code = exc instanceof ApiError && problemCode(exc) === "already-in-game" ? exc.problem.game : null;
  if (typeof code !== "string") return false;
  try {
    await seatIn(dispatch, await getGame(code));
    return true;
  } catch {
    return false;
  }
}
