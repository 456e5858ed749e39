import { Link } from "react-router-dom";
import { useSession } from "../../features/session/useSession";
import "./home.css";

const AREAS: { to: string; title: string; text: string }[] = [
  { to: "/arena", title: "Play", text: "Queue for a ranked match, join a party or start a custom game with friends." },
  { to: "/watch", title: "Watch", text: "Follow live matches as they happen, or replay the ones that just ended." },
  { to: "/market", title: "Market", text: "Buy and sell items with other players; every price has its history." },
  { to: "/inventory", title: "Inventory", text: "See what you own, list it for sale, or take it on chain." },
  { to: "/trades", title: "Trades", text: "Offer items and currency to another player and settle it in one step." },
  { to: "/butler", title: "Butler", text: "Ask in plain words: check your wallet, find a bargain, queue for a match." },
];

export function HomePage() {
  const { signedIn, displayName } = useSession();
  return (
    <main id="main" className="home">
      <section className="home-hero" aria-labelledby="home-title">
        <h1 id="home-title">{signedIn && displayName ? `Welcome back, ${displayName}` : "Elysium"}</h1>
        <p className="home-lead">Real-time matches in the arena, a player-run market, and a butler who handles the errands.</p>
        <div className="row">
          <Link to="/arena" className="button home-play">Play now</Link>
          {!signedIn && <Link to="/register" className="button button-secondary">Create an account</Link>}
          {!signedIn && <Link to="/login" className="button button-secondary">Sign in</Link>}
        </div>
      </section>
      <section aria-labelledby="home-areas-title">
        <h2 id="home-areas-title">What you can do</h2>
        <ul className="grid home-areas">
          {AREAS.map((a) => (
            <li key={a.to} className="card home-area">
              <h3><Link to={a.to}>{a.title}</Link></h3>
              <p>{a.text}</p>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
