import { useEffect, useRef, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { useAppDispatch, useAppSelector } from "../../store";
import { ApiError } from "@elysium/sdk";
import { isFinal, queuesFailed, queuesLoaded, queuesLoading, ticketCleared, ticketUpdated } from "../../features/arena/arenaSlice";
import { errorText, followTicket, getQueues } from "../../features/arena/lobbyApi";
import { QuickPlay } from "./QuickPlay";
import { PartyPanel } from "./PartyPanel";
import { CustomGames } from "./CustomGames";
import "./arena.css";

const QUEUES_EVERY_MS = 5000;

/** Keeps the queue modes and their waiting counts fresh while the lobby is open. */
function useQueues() {
  const dispatch = useAppDispatch();
  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const body = await getQueues();
        if (!stop) dispatch(queuesLoaded(body));
      } catch (exc) {
        if (!stop) dispatch(queuesFailed(errorText(exc)));
      }
    };
    dispatch(queuesLoading());
    void load();
    const timer = setInterval(load, QUEUES_EVERY_MS);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [dispatch]);
}

/** Follows the caller's active ticket (queued, or a custom game's) on its event stream. */
function useTicketFollower(onError: (text: string | null) => void) {
  const dispatch = useAppDispatch();
  const ticket = useAppSelector((s) => s.arena.ticket);
  const signedIn = useAppSelector((s) => !!s.session.accessToken);
  const id = ticket && !isFinal(ticket) ? ticket.id : null;
  useEffect(() => {
    if (!id || !signedIn) return;
    const ctl = new AbortController();
    onError(null);
    const failed = (exc: unknown) => {
      // Gone (expired from the record) or no longer the caller's (removed from a game): forget it.
      if (exc instanceof ApiError && (exc.status === 403 || exc.status === 404)) dispatch(ticketCleared());
      else onError(errorText(exc));
    };
    void followTicket(id, (t) => dispatch(ticketUpdated(t)), failed, ctl.signal);
    return () => ctl.abort();
  }, [id, signedIn, dispatch, onError]);
}

/** Goes to the game page when a new assignment arrives while the lobby is open. */
function useHandOver() {
  const assignment = useAppSelector((s) => s.arena.assignment);
  const navigate = useNavigate();
  const seen = useRef(assignment?.matchId ?? null);
  useEffect(() => {
    if (assignment && assignment.matchId !== seen.current) {
      seen.current = assignment.matchId;
      navigate("/arena/play");
    }
  }, [assignment, navigate]);
}

export function ArenaLobby() {
  const signedIn = useAppSelector((s) => !!s.session.accessToken);
  const assignment = useAppSelector((s) => s.arena.assignment);
  useQueues();
  const [followError, setFollowError] = useState<string | null>(null);
  useTicketFollower(setFollowError);
  useHandOver();
  return (
    <main id="main" className="arena-lobby">
      <h1>Arena</h1>
      {!signedIn && (
        <p className="arena-signin">
          <Link to="/login">Sign in</Link> or <Link to="/register">create an account</Link> to play.
        </p>
      )}
      {assignment && (
        <p className="arena-ready" role="status">
          Your match {assignment.matchId} is ready. <Link to="/arena/play">Play now</Link>
        </p>
      )}
      {followError && <p role="alert">{followError}</p>}
      <div className="arena-grid">
        <QuickPlay />
        {signedIn && <PartyPanel />}
        <CustomGames />
      </div>
    </main>
  );
}
