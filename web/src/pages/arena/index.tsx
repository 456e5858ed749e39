// The arena area: the lobby (quick play, parties, custom games) and the game page it hands matches to.
export { ArenaLobby } from "./ArenaLobby";
export { GamePage } from "./game";
