import { useState, type FormEvent } from "react";
import type { ChatLine, GameClient } from "@elysium/sdk";

/** Team chat inside the match's own socket (everyone in a match without teams). */
export function ChatPanel({ client, lines, error, disabled }: { client: GameClient; lines: ChatLine[]; error: string | null; disabled: boolean }) {
  const [text, setText] = useState("");
  const [local, setLocal] = useState<string | null>(null);
  const send = (e: FormEvent) => {
    e.preventDefault();
    try {
      client.sendChat(text);
      setText("");
      setLocal(null);
    } catch (exc) {
      setLocal((exc as Error).message);
    }
  };
  const shown = local ?? error;
  return (
    <section className="game-chat" aria-labelledby="game-chat-title">
      <h2 id="game-chat-title">Team chat</h2>
      <div className="game-chat-log" role="log" aria-live="polite" aria-label="Chat lines" tabIndex={0} data-testid="chat-log">
        <ol>
          {lines.slice(-50).map((l, i) => (
            <li key={`${l.ts}-${i}`}>
              <span className="game-chat-name">{l.name}:</span> {l.text}
            </li>
          ))}
        </ol>
      </div>
      <form onSubmit={send} className="game-chat-form">
        <label htmlFor="game-chat-input">Message</label>
        <input id="game-chat-input" value={text} maxLength={500} onChange={(e) => setText(e.target.value)} disabled={disabled} autoComplete="off" />
        <button type="submit" disabled={disabled || !text.trim()}>
          Send
        </button>
      </form>
      {shown && <p role="alert">{shown}</p>}
    </section>
  );
}
