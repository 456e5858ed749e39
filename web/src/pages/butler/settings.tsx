import { useEffect, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { api } from "../../api";
import { ErrorAlert, fieldErrors } from "../../components/ErrorAlert";
import { SignInFirst } from "../../components/SignInFirst";
import { settingsLoaded, type ButlerSettings } from "../../features/butler/butlerSlice";
import { useSession } from "../../features/session/useSession";
import { useAppDispatch, useAppSelector } from "../../store";
import "./butler.css";

const TONES: ButlerSettings["tone"][] = ["friendly", "formal", "concise", "playful"];
/** The categories a player may let the butler do without asking; money always asks. */
const MAY_SKIP_ASKING: { category: string; label: string }[] = [{ category: "queue", label: "Queue me for matches without asking" }];

function SettingsForm({ current }: { current: ButlerSettings }) {
  const dispatch = useAppDispatch();
  const [persona, setPersona] = useState(current.persona);
  const [tone, setTone] = useState(current.tone);
  const [language, setLanguage] = useState(current.language);
  const [autoApprove, setAutoApprove] = useState<string[]>(current.auto_approve);
  const [budget, setBudget] = useState(String(current.daily_token_budget));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState("");
  const fields = fieldErrors(error);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved("");
    try {
      const body = { persona, tone, language, auto_approve: autoApprove, daily_token_budget: Number(budget) };
      dispatch(settingsLoaded(await api.request<ButlerSettings>("butler", "/v1/butler/settings", { method: "PUT", body })));
      setSaved("Settings saved.");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const described = (id: string, hint?: string, err?: string) =>
    [hint ? `${id}-hint` : "", err ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;

  return (
    <form onSubmit={submit} className="card butler-settings">
      <ErrorAlert error={error} service="butler" />
      <p role="status" className="status-message">{saved}</p>
      <div className="field">
        <label htmlFor="butler-persona">Persona</label>
        <span id="butler-persona-hint" className="field-hint">Who the butler is, in a few words (at most 200 characters)</span>
        <input id="butler-persona" maxLength={200} value={persona} onChange={(e) => setPersona(e.target.value)}
               aria-invalid={fields.persona ? true : undefined} aria-describedby={described("butler-persona", "hint", fields.persona)} />
        {fields.persona && <span id="butler-persona-error" className="field-error">{fields.persona}</span>}
      </div>
      <div className="field">
        <label htmlFor="butler-tone">Tone</label>
        <select id="butler-tone" value={tone} onChange={(e) => setTone(e.target.value as ButlerSettings["tone"])}>
          {TONES.map((t) => <option key={t} value={t}>{t}</option>)}
        </select>
      </div>
      <div className="field">
        <label htmlFor="butler-language">Language</label>
        <span id="butler-language-hint" className="field-hint">A language tag such as en, fr or pt-BR</span>
        <input id="butler-language" value={language} maxLength={35} onChange={(e) => setLanguage(e.target.value)}
               aria-invalid={fields.language ? true : undefined} aria-describedby={described("butler-language", "hint", fields.language)} />
        {fields.language && <span id="butler-language-error" className="field-error">{fields.language}</span>}
      </div>
      <fieldset>
        <legend>Without asking first</legend>
        {MAY_SKIP_ASKING.map(({ category, label }) => (
          <label key={category} className="check">
            <input type="checkbox" checked={autoApprove.includes(category)}
                   onChange={(e) => setAutoApprove((a) => (e.target.checked ? [...a, category] : a.filter((c) => c !== category)))} />
            {label}
          </label>
        ))}
        <p className="field-hint">Spending, selling, trading and withdrawing always wait for your confirmation.</p>
        {fields.auto_approve && <p className="field-error">{fields.auto_approve}</p>}
      </fieldset>
      <div className="field">
        <label htmlFor="butler-budget">Daily token budget</label>
        <span id="butler-budget-hint" className="field-hint">Model tokens the butler may use for you each day (UTC)</span>
        <input id="butler-budget" type="number" min={0} step={1} inputMode="numeric" value={budget}
               onChange={(e) => setBudget(e.target.value)} aria-invalid={fields.daily_token_budget ? true : undefined}
               aria-describedby={described("butler-budget", "hint", fields.daily_token_budget)} />
        {fields.daily_token_budget && <span id="butler-budget-error" className="field-error">{fields.daily_token_budget}</span>}
      </div>
      <button type="submit" disabled={busy}>{busy ? "Saving…" : "Save settings"}</button>
    </form>
  );
}

export function ButlerSettingsPage() {
  const { signedIn } = useSession();
  const dispatch = useAppDispatch();
  const settings = useAppSelector((s) => s.butler.settings);
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);

  useEffect(() => {
    if (!signedIn) return;
    api.request<ButlerSettings>("butler", "/v1/butler/settings").then((s) => {
      dispatch(settingsLoaded(s));
      setLoaded(true);
    }, setError);
  }, [signedIn, dispatch]);

  if (!signedIn) return <SignInFirst title="Butler settings" what="change your butler's settings" />;
  return (
    <main id="main" className="butler-page">
      <h1>Butler settings</h1>
      <p><Link to="/butler">Back to the butler</Link></p>
      <ErrorAlert error={error} service="butler" />
      {settings && loaded ? <SettingsForm current={settings} /> : !error && <p role="status">Loading…</p>}
    </main>
  );
}
