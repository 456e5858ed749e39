import { lazy, Suspense } from "react";
import { Route, Routes } from "react-router-dom";
import { Footer } from "./components/Footer";
import { Navbar } from "./components/Navbar";

// Each area is its own chunk, loaded when first visited.
const page = <K extends string>(load: () => Promise<Record<K, React.ComponentType>>, name: K) =>
  lazy(() => load().then((m) => ({ default: m[name] })));

const home = () => import("./pages/home");
const auth = () => import("./pages/auth");
const arena = () => import("./pages/arena");
const spectate = () => import("./pages/spectate");
const market = () => import("./pages/market");
const butler = () => import("./pages/butler");
const ops = () => import("./pages/ops");

const HomePage = page(home, "HomePage");
const LoginPage = page(auth, "LoginPage");
const RegisterPage = page(auth, "RegisterPage");
const ProfilePage = page(auth, "ProfilePage");
const SettingsPage = page(auth, "SettingsPage");
const PlayerPage = page(auth, "PlayerPage");
const ArenaLobby = page(arena, "ArenaLobby");
const GamePage = page(arena, "GamePage");
const LiveMatches = page(spectate, "LiveMatches");
const WatchPage = page(spectate, "WatchPage");
const ReplayPage = page(spectate, "ReplayPage");
const MarketPage = page(market, "MarketPage");
const ListingPage = page(market, "ListingPage");
const InventoryPage = page(market, "InventoryPage");
const TradesPage = page(market, "TradesPage");
const TradeNewPage = page(market, "TradeNewPage");
const WalletPage = page(market, "WalletPage");
const ButlerPage = page(butler, "ButlerPage");
const ButlerSettingsPage = page(butler, "ButlerSettingsPage");
const OpsConsole = page(ops, "OpsConsole");

function NotFound() {
  return (
    <main id="main">
      <h1>Not found</h1>
      <p>There is no page at this address.</p>
    </main>
  );
}

export function App() {
  return (
    <div className="app">
      <a className="skip-link" href="#main">Skip to content</a>
      <Navbar />
      <Suspense fallback={<main id="main" aria-busy="true"><p>Loading…</p></main>}>
        <Routes>
          <Route path="/" element={<HomePage />} />
          <Route path="/login" element={<LoginPage />} />
          <Route path="/register" element={<RegisterPage />} />
          <Route path="/profile" element={<ProfilePage />} />
          <Route path="/settings" element={<SettingsPage />} />
          <Route path="/players/:playerId" element={<PlayerPage />} />
          <Route path="/arena" element={<ArenaLobby />} />
          <Route path="/arena/play" element={<GamePage />} />
          <Route path="/watch" element={<LiveMatches />} />
          <Route path="/watch/:matchId" element={<WatchPage />} />
          <Route path="/replays/:matchId" element={<ReplayPage />} />
          <Route path="/market" element={<MarketPage />} />
          <Route path="/market/listings/:listingId" element={<ListingPage />} />
          <Route path="/inventory" element={<InventoryPage />} />
          <Route path="/trades" element={<TradesPage />} />
          <Route path="/trades/new" element={<TradeNewPage />} />
          <Route path="/wallet" element={<WalletPage />} />
          <Route path="/butler" element={<ButlerPage />} />
          <Route path="/butler/settings" element={<ButlerSettingsPage />} />
          <Route path="/ops/*" element={<OpsConsole />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </Suspense>
      <Footer />
    </div>
  );
}
