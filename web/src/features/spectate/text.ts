/** The plain words the watch pages show for a watch's state. */
import type { WatchState } from "./spectateSlice";

const END_REASONS: Record<string, string> = {
  score: "the score limit was reached",
  time: "time ran out",
  shutdown: "its game server shut down",
  abandoned: "the players left",
};

export function endText(reason: string | null): string {
  if (!reason) return "The match is over";
  return `The match is over: ${END_REASONS[reason] ?? reason}`;
}

export function watchStatusText(w: WatchState): string {
  switch (w.status) {
    case "connecting":
      return "Connecting to the relay…";
    case "watching":
      if (w.live === false || w.kind === "replay") return `Replay at ${w.speed}×`;
      if (w.roomState === "waiting") return "Live: waiting for the players";
      return w.delayApplied ? `Live, ${w.delayApplied} s behind` : "Live";
    case "paused":
      return "Paused";
    case "ended":
      return endText(w.endReason);
    case "stream-ended":
      return w.retry ? `${w.endReason ?? "The stream ended"}; reconnecting` : `The stream ended: ${w.endReason ?? "no reason given"}`;
    case "error":
      return "The watch could not continue";
  }
}
