import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { Link } from "react-router-dom";
import { ErrorAlert } from "../../components/ErrorAlert";
import { SignInFirst } from "../../components/SignInFirst";
import { api } from "../../api";
import {
  newConversation, proposalDismissed, settingsLoaded, toolLabel, type ButlerSettings, type ChatItem,
} from "../../features/butler/butlerSlice";
import { useSession } from "../../features/session/useSession";
import { useStore } from "react-redux";
import { useAppDispatch, useAppSelector, type RootState } from "../../store";
import { confirmProposal, deleteConversation, loadConversations, openConversation, sendMessage } from "./chat";
import { ButlerSettingsPage } from "./settings";
import "./butler.css";

export { ButlerSettingsPage };

const MAX_MESSAGE = 4000;

function Terms({ terms }: { terms: Record<string, unknown> }) {
  const rows = Object.entries(terms);
  if (rows.length === 0) return null;
  return (
    <dl className="butler-terms">
      {rows.map(([k, v]) => (
        <div key={k} className="butler-term">
          <dt>{k.replace(/_/g, " ")}</dt>
          <dd>{typeof v === "object" && v !== null ? <code>{JSON.stringify(v)}</code> : String(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function ProposalCard({ item }: { item: Extract<ChatItem, { kind: "proposal" }> }) {
  const dispatch = useAppDispatch();
  const { proposal, status, error, result } = item;
  const expires = proposal.expires_at ? new Date(proposal.expires_at) : null;
  const expired = status === "open" && expires !== null && expires.getTime() < Date.now();
  return (
    <article className={`butler-proposal butler-proposal-${status}`} data-testid="proposal-card" aria-labelledby={`proposal-${item.key}`}>
      <h3 id={`proposal-${item.key}`} className="butler-proposal-title">Confirm: {proposal.summary}</h3>
      <p className="muted">
        <span className="badge">{proposal.category}</span> {proposal.tool.replace(/_/g, " ")}
        {expires && !Number.isNaN(expires.getTime()) && status === "open" && !expired && <> · valid until {expires.toLocaleTimeString()}</>}
      </p>
      <Terms terms={proposal.terms} />
      {error && <p role="alert">{error.detail || error.code}{error.code === "terms-changed" && " Ask the butler again for fresh terms."}</p>}
      {status === "confirmed" && (
        <div role="status" className="butler-result">
          <p><strong>Done.</strong></p>
          {result !== null && typeof result === "object" && !Array.isArray(result) ? (
            <Terms terms={result as Record<string, unknown>} />
          ) : result !== undefined && result !== null && <p>{String(result)}</p>}
        </div>
      )}
      {status === "dismissed" && <p role="status" className="muted">Dismissed.</p>}
      {expired && <p className="muted">This proposal has expired; ask the butler again for fresh terms.</p>}
      {!expired && (status === "open" || status === "confirming") && (
        <div className="row">
          <button type="button" disabled={status === "confirming"} onClick={() => void confirmProposal(dispatch, proposal.id)}>
            {status === "confirming" ? "Confirming…" : "Confirm"}
          </button>
          <button type="button" className="button-secondary" disabled={status === "confirming"}
                  onClick={() => dispatch(proposalDismissed(proposal.id))}>Dismiss</button>
        </div>
      )}
    </article>
  );
}

function Transcript({ items, streaming }: { items: ChatItem[]; streaming: boolean }) {
  const end = useRef<HTMLDivElement>(null);
  const last = items.at(-1);
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: "end" });
  }, [items.length, last?.kind === "assistant" ? last.text.length : 0]);
  return (
    <div className="butler-transcript" role="log" aria-label="Conversation" aria-live="polite" aria-busy={streaming}>
      {items.length === 0 && (
        <p className="muted butler-empty">Ask about your wallet, your items, the market or a match. For example: “what is in my inventory?”,
          “sell my speed boots for 40 soft”, “find me a match”.</p>
      )}
      {items.map((item) => {
        switch (item.kind) {
          case "user":
            return <div key={item.key} className="butler-msg butler-msg-user" data-testid="chat-user"><span className="visually-hidden">You: </span>{item.text}</div>;
          case "assistant":
            return <div key={item.key} className="butler-msg butler-msg-butler" data-testid="chat-reply"><span className="visually-hidden">Butler: </span>{item.text}</div>;
          case "tool":
            return (
              <div key={item.key} className={`butler-chip butler-chip-${item.outcome}`} data-testid="tool-chip">
                {toolLabel(item.tool, item.outcome)}
              </div>
            );
          case "proposal":
            return <ProposalCard key={item.key} item={item} />;
          case "error":
            return <div key={item.key} className="butler-msg butler-msg-error" role="alert">{item.detail}</div>;
        }
      })}
      {streaming && <p className="muted butler-typing" role="status">The butler is answering…</p>}
      <div ref={end} />
    </div>
  );
}

function Sidebar({ onOpen }: { onOpen: (id: string) => void }) {
  const dispatch = useAppDispatch();
  const { conversations, activeId, nextCursor, streaming } = useAppSelector((s) => s.butler);
  const [error, setError] = useState<unknown>(null);
  const [pending, setPending] = useState<string | null>(null);
  return (
    <nav className="butler-sidebar" aria-label="Conversations">
      <div className="row-between">
        <h2 className="butler-sidebar-title">Conversations</h2>
        <button type="button" className="button-secondary" disabled={streaming} onClick={() => dispatch(newConversation())}>New</button>
      </div>
      <ErrorAlert error={error} service="butler" />
      {conversations.length === 0 ? (
        <p className="muted">No conversations yet.</p>
      ) : (
        <ul className="butler-conversations">
          {conversations.map((c) => (
            <li key={c.id} className={c.id === activeId ? "butler-conversation-active" : undefined} data-testid="conversation-row">
              {pending === c.id ? (
                <div className="butler-conversation-confirm" role="group" aria-label={`Delete conversation ${c.title || c.id}?`}>
                  <span>Delete “{c.title || "Untitled"}”?</span>
                  <div className="row">
                    <button type="button" className="button-danger" onClick={() => {
                      setPending(null);
                      deleteConversation(dispatch, c.id).catch(setError);
                    }}>Delete</button>
                    <button type="button" className="button-secondary" onClick={() => setPending(null)}>Keep</button>
                  </div>
                </div>
              ) : (
                <>
                  <button type="button" className="butler-conversation-open" disabled={streaming}
                          aria-current={c.id === activeId ? "true" : undefined} onClick={() => onOpen(c.id)}>
                    {c.title || "Untitled"}
                  </button>
                  <button type="button" className="button-secondary butler-conversation-delete" disabled={streaming}
                          aria-label={`Delete conversation ${c.title || c.id}`} onClick={() => setPending(c.id)}>
                    <span aria-hidden="true">×</span>
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      {nextCursor && (
        <button type="button" className="button-secondary" onClick={() => loadConversations(dispatch, nextCursor).catch(setError)}>
          Older conversations
        </button>
      )}
    </nav>
  );
}

export function ButlerPage() {
  const { signedIn } = useSession();
  const dispatch = useAppDispatch();
  const appStore = useStore<RootState>();
  const { items, streaming, usage, lastUsage, settings } = useAppSelector((s) => s.butler);
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  const controller = useRef<AbortController | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (!signedIn) return;
    loadConversations(dispatch).catch(setError);
    api.request<ButlerSettings>("butler", "/v1/butler/settings").then((s) => dispatch(settingsLoaded(s)), () => undefined);
  }, [signedIn, dispatch]);

  // Leaving the page stops a stream in flight (the butler still stores the turn).
  useEffect(() => () => controller.current?.abort(), []);

  async function send(e?: FormEvent) {
    e?.preventDefault();
    const message = text.trim();
    if (!message || streaming) return;
    setText("");
    const ctl = new AbortController();
    controller.current = ctl;
    await sendMessage(dispatch, appStore.getState, message, ctl.signal);
    if (controller.current === ctl) controller.current = null;
    input.current?.focus();
  }

  function onKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  }

  async function open(id: string) {
    setError(null);
    try {
      await openConversation(dispatch, id);
    } catch (err) {
      setError(err);
    }
  }

  if (!signedIn) return <SignInFirst title="Butler" what="talk to your butler" />;
  const total = usage.prompt_tokens + usage.completion_tokens;
  return (
    <main id="main" className="butler-page">
      <div className="row-between">
        <h1>Butler</h1>
        <Link to="/butler/settings">Butler settings</Link>
      </div>
      <div className="butler-layout">
        <Sidebar onOpen={open} />
        <section className="butler-chat" aria-label="Chat">
          <ErrorAlert error={error} service="butler" />
          <Transcript items={items} streaming={streaming} />
          <form className="butler-compose" onSubmit={send}>
            <label htmlFor="butler-message">Message</label>
            <textarea id="butler-message" ref={input} rows={2} maxLength={MAX_MESSAGE} value={text}
                      placeholder="Ask the butler…" onChange={(e) => setText(e.target.value)} onKeyDown={onKey} />
            <div className="row">
              <button type="submit" disabled={streaming || !text.trim()}>Send</button>
              {streaming && (
                <button type="button" className="button-secondary" onClick={() => controller.current?.abort()}>Stop</button>
              )}
            </div>
          </form>
          <p className="muted butler-usage" data-testid="token-usage">
            Tokens this visit: {total}
            {lastUsage && <> (last reply: {lastUsage.prompt_tokens} in, {lastUsage.completion_tokens} out)</>}
            {settings && <> · daily budget {settings.daily_token_budget}</>}
          </p>
        </section>
      </div>
    </main>
  );
}
