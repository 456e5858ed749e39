// The spectator area: the relay's live list, watching a match live, and replays.
export { LiveMatches } from "./LiveMatches";
export { WatchPage } from "./WatchPage";
export { ReplayPage } from "./ReplayPage";
