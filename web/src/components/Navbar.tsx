import { useEffect, useId, useRef, useState } from "react";
import { Link, NavLink, useLocation, useNavigate } from "react-router-dom";
import { api } from "../api";
import { useSession, useSessionKeeper } from "../features/session/useSession";
import { useAppSelector } from "../store";

export interface Wallet {
  account_id: string;
  balances: { soft: number; premium: number };
}

export interface Presence {
  state: "offline" | "online" | "in_queue" | "in_match" | "watching";
  match_id?: string | null;
  watch?: string | null;
}

export interface Friend {
  id: string;
  display_name: string;
  avatar_url: string | null;
  since: string;
  presence: Presence;
}

const POLL_MS = 30_000;
const CHANGED = "elysium:wallet-changed";

/** Tells the navbar that money, items or friends changed (a purchase, a confirmed action, a friend request), so it reads them again. */
export function refreshNavbar(): void {
  globalThis.dispatchEvent?.(new Event(CHANGED));
}

/** The same as `refreshNavbar`, named for what the market pages call it after a purchase. */
export const walletChanged = refreshNavbar;

const PRESENCE_WORDS: Record<Presence["state"], string> = {
  offline: "offline", online: "online", in_queue: "in the queue", in_match: "in a match", watching: "watching a match",
};

export function presenceText(p: Presence | undefined): string {
  return PRESENCE_WORDS[p?.state ?? "offline"] ?? "offline";
}

const NAV_QUERY = `query Navbar {
  viewer {
    id
    wallet { balances { soft premium } }
    friends { id displayName avatarUrl since presence { state matchId watch } }
    friendRequests { incoming { id displayName } }
  }
}`;

interface NavQuery {
  viewer: null | {
    id: string;
    wallet: { balances: { soft: number | null; premium: number | null } };
    friends: { id: string; displayName: string; avatarUrl: string | null; since: string | null;
               presence: { state: string | null; matchId: string | null; watch: string | null } | null }[];
    friendRequests: { incoming: { id: string; displayName: string }[] };
  };
}

/** The wallet and the friends in one GraphQL read; the REST routes when GraphQL cannot answer. */
export interface Asking {
  id: string;
  display_name: string;
}

export async function readNavData(signal: AbortSignal): Promise<{ wallet: Wallet; friends: Friend[]; asking: Asking[] } | null> {
  try {
    const { viewer } = await api.graphql<NavQuery>(NAV_QUERY, {}, signal);
    if (!viewer) return null;
    return {
      wallet: { account_id: viewer.id, balances: { soft: viewer.wallet.balances.soft ?? 0, premium: viewer.wallet.balances.premium ?? 0 } },
      friends: viewer.friends.map((f) => ({
        id: f.id, display_name: f.displayName, avatar_url: f.avatarUrl, since: f.since ?? "",
        presence: { state: (f.presence?.state ?? "offline") as Presence["state"], match_id: f.presence?.matchId ?? null, watch: f.presence?.watch ?? null },
      })),
      asking: viewer.friendRequests.incoming.map((r) => ({ id: r.id, display_name: r.displayName })),
    };
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    const [wallet, friends, requests] = await Promise.all([
      api.request<Wallet>("commerce", "/v1/me/wallet", { signal }),
      api.request<{ friends: Friend[] }>("commerce", "/v1/me/friends", { signal }),
      api.request<{ incoming: Asking[] }>("commerce", "/v1/me/friends/requests", { signal }),
    ]);
    return { wallet, friends: friends.friends, asking: requests.incoming };
  }
}

/** Reads the wallet and the friends list while signed in: now, on every page change and every half minute. */
function useNavData(signedIn: boolean, pathname: string) {
  const [wallet, setWallet] = useState<Wallet | null>(null);
  const [friends, setFriends] = useState<Friend[] | null>(null);
  const [asking, setAsking] = useState<Asking[]>([]);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!signedIn) return;
    const again = () => setTick((n) => n + 1);
    const timer = setInterval(again, POLL_MS);
    globalThis.addEventListener(CHANGED, again);
    return () => {
      clearInterval(timer);
      globalThis.removeEventListener(CHANGED, again);
    };
  }, [signedIn]);
  useEffect(() => {
    if (!signedIn) {
      setWallet(null);
      setFriends(null);
      setAsking([]);
      return;
    }
    const ctl = new AbortController();
    readNavData(ctl.signal).then((d) => {
      if (!d) return;
      setWallet(d.wallet);
      setFriends(d.friends);
      setAsking(d.asking);
    }, () => undefined);
    return () => ctl.abort();
  }, [signedIn, pathname, tick]);
  return { wallet, friends, asking };
}

/** Closes a popover on Escape (focus back to its button) and on a click outside it. */
function usePopover(open: boolean, close: () => void) {
  const button = useRef<HTMLButtonElement>(null);
  const panel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        close();
        button.current?.focus();
      }
    };
    const onClick = (e: MouseEvent) => {
      const t = e.target as Node;
      if (!panel.current?.contains(t) && !button.current?.contains(t)) close();
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("mousedown", onClick);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("mousedown", onClick);
    };
  }, [open, close]);
  return { button, panel };
}

function FriendsPopover({ friends, asking }: { friends: Friend[]; asking: Asking[] }) {
  const [open, setOpen] = useState(false);
  const id = useId();
  const { button, panel } = usePopover(open, () => setOpen(false));
  const online = friends.filter((f) => f.presence?.state && f.presence.state !== "offline");
  return (
    <div className="navbar-popover-wrap">
      <button ref={button} type="button" className="navbar-chip" aria-expanded={open} aria-controls={id}
              onClick={() => setOpen((o) => !o)} data-testid="friends-online">
        Friends online: {online.length}
        {asking.length > 0 && <span className="navbar-count"> · {asking.length} {asking.length === 1 ? "request" : "requests"}</span>}
      </button>
      <div ref={panel} id={id} className="navbar-popover" hidden={!open}>
        <h2 className="navbar-popover-title">Friends online</h2>
        {online.length === 0 ? (
          <p>None of your friends is online.</p>
        ) : (
          <ul className="navbar-friends">
            {online.map((f) => (
              <li key={f.id} data-testid="friend-online">
                <Link to={`/players/${encodeURIComponent(f.id)}`} onClick={() => setOpen(false)}>{f.display_name}</Link>{" "}
                <span className="muted">{presenceText(f.presence)}</span>
                {f.presence.state === "in_match" && f.presence.match_id && (
                  <> · <Link to={`/watch/${encodeURIComponent(f.presence.match_id)}`} onClick={() => setOpen(false)}>watch</Link></>
                )}
              </li>
            ))}
          </ul>
        )}
        {asking.length > 0 && (
          <>
            <h2 className="navbar-popover-title">Friend requests</h2>
            <ul className="navbar-friends">
              {asking.map((r) => (
                <li key={r.id} data-testid="friend-request">
                  <Link to={`/players/${encodeURIComponent(r.id)}`} onClick={() => setOpen(false)}>{r.display_name}</Link>
                  <span className="muted"> wants to be friends</span>
                </li>
              ))}
            </ul>
          </>
        )}
      </div>
    </div>
  );
}

function UserMenu({ name }: { name: string }) {
  const [open, setOpen] = useState(false);
  const id = useId();
  const { signOut } = useSession();
  const navigate = useNavigate();
  const { button, panel } = usePopover(open, () => setOpen(false));
  return (
    <div className="navbar-popover-wrap">
      <button ref={button} type="button" className="navbar-user" aria-expanded={open} aria-controls={id}
              aria-haspopup="true" onClick={() => setOpen((o) => !o)} data-testid="user-menu">
        {name} <span aria-hidden="true">▾</span>
      </button>
      <div ref={panel} id={id} className="navbar-popover navbar-menu" hidden={!open}>
        <ul>
          <li><Link to="/profile" onClick={() => setOpen(false)}>Profile</Link></li>
          <li><Link to="/settings" onClick={() => setOpen(false)}>Settings</Link></li>
          <li>
            <button type="button" className="button-link" onClick={async () => {
              setOpen(false);
              await signOut();
              navigate("/");
            }}>Sign out</button>
          </li>
        </ul>
      </div>
    </div>
  );
}

const LINKS: [string, string][] = [
  ["/arena", "Arena"], ["/watch", "Watch"], ["/market", "Market"], ["/inventory", "Inventory"],
  ["/trades", "Trades"], ["/butler", "Butler"],
];

export function Navbar() {
  useSessionKeeper();
  const { signedIn, displayName, isOperator } = useSession();
  const accountId = useAppSelector((s) => s.session.accountId);
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const { wallet, friends, asking } = useNavData(signedIn, location.pathname);
  const linksId = useId();

  useEffect(() => setMenuOpen(false), [location.pathname]);

  return (
    <header className="navbar">
      <Link to="/" className="navbar-brand">Elysium</Link>
      <button type="button" className="navbar-toggle" aria-expanded={menuOpen} aria-controls={linksId}
              onClick={() => setMenuOpen((o) => !o)}>
        Menu
      </button>
      <div id={linksId} className={`navbar-body${menuOpen ? " navbar-open" : ""}`}>
        <nav aria-label="Main">
          <ul className="navbar-links">
            {LINKS.map(([to, label]) => (
              <li key={to}><NavLink to={to}>{label}</NavLink></li>
            ))}
            {isOperator && <li><NavLink to="/ops">Ops</NavLink></li>}
          </ul>
        </nav>
        <div className="navbar-session">
          {signedIn ? (
            <>
              {wallet && (
                <Link to="/wallet" className="navbar-chip" data-testid="wallet-balance">
                  <span className="visually-hidden">Wallet: </span>
                  {wallet.balances.soft} soft · {wallet.balances.premium} premium
                </Link>
              )}
              {friends && <FriendsPopover friends={friends} asking={asking} />}
              <UserMenu name={displayName || (accountId ? "Account" : "")} />
            </>
          ) : (
            <>
              <Link to="/login" className="button button-secondary">Sign in</Link>
              <Link to="/register" className="button">Register</Link>
            </>
          )}
        </div>
      </div>
    </header>
  );
}
