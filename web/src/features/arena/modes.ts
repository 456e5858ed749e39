/**
 * What the lobby knows of the default queue modes' sizes, to offer sensible seat counts when
 * hosting. `GET /v1/queues` names the modes but not their sizes; the matchmaker checks the
 * seats against the mode it serves (`422 invalid-seats`), so these are hints, never rules.
 */
export interface ModeHint {
  label: string;
  minPlayers: number;
  maxPlayers: number;
}

const HINTS: Record<string, ModeHint> = {
  arena: { label: "Arena (free for all)", minPlayers: 2, maxPlayers: 10 },
  duel: { label: "Duel (one on one)", minPlayers: 2, maxPlayers: 2 },
  "team-arena": { label: "Team arena (two teams of four)", minPlayers: 4, maxPlayers: 8 },
  koth: { label: "King of the hill (two teams)", minPlayers: 4, maxPlayers: 16 },
  cards: { label: "Cards (a table of 2 to 4)", minPlayers: 2, maxPlayers: 4 },
};

export function modeHint(mode: string): ModeHint {
  return HINTS[mode] ?? { label: mode, minPlayers: 1, maxPlayers: 100 };
}
