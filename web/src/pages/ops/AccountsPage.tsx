import { useState } from "react";
import { ApiError, newIdempotencyKey } from "@elysium/sdk";
import { CURRENCIES, opsApi, type Currency } from "../../features/ops/opsApi";
import { accountModerated, accountsLoaded, actionName, actionSettled, actionStarted, loadFailed,
  type AdminAccount } from "../../features/ops/opsSlice";
import { useAppDispatch, useAppSelector, type AppDispatch } from "../../store";
import { OpsPage, opsProblem, TableWrap, useServiceToken } from "./common";

const BAN_LENGTHS: { label: string; seconds: number }[] = [
  { label: "Until lifted", seconds: 0 },
  { label: "1 hour", seconds: 3600 },
  { label: "1 day", seconds: 86_400 },
  { label: "7 days", seconds: 7 * 86_400 },
  { label: "30 days", seconds: 30 * 86_400 },
];

/** `/ops/accounts`: search, ban and unban with a reason, grant currency with a reason. */
export function AccountsPage() {
  const dispatch = useAppDispatch();
  const token = useServiceToken();
  const accounts = useAppSelector((s) => s.ops.accounts);
  const error = useAppSelector((s) => s.ops.errors.accounts);
  const updatedAt = useAppSelector((s) => s.ops.updatedAt.accounts);
  const [q, setQ] = useState(accounts.query);
  const [busy, setBusy] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [notice, setNotice] = useState("");

  const load = async (query: string, after?: string | null) => {
    setBusy(true);
    try {
      const body = await opsApi.accounts(token, query, after);
      dispatch(accountsLoaded({ query, accounts: body.accounts, next: body.next, append: !!after }));
    } catch (err) {
      dispatch(loadFailed({ section: "accounts", message: opsProblem(err, "commerce") }));
    } finally {
      setBusy(false);
    }
  };
  const account = accounts.items.find((a) => a.account_id === selected) || null;

  return (
    <OpsPage title="Accounts" updatedAt={updatedAt} onRefresh={() => void load(accounts.query)}>
      <form role="search" className="inline ops-search" onSubmit={(ev) => { ev.preventDefault(); setSelected(null); void load(q.trim()); }}>
        <div className="field">
          <label htmlFor="ops-q">Search accounts</label>
          <input id="ops-q" type="search" value={q} maxLength={64} onChange={(ev) => setQ(ev.target.value)}
            aria-describedby="ops-q-hint" />
          <span id="ops-q-hint" className="field-hint">An account id, or the start of a username or display name. Empty: every account.</span>
        </div>
        <button type="submit" disabled={busy}>Search</button>
      </form>
      <p role="status" className="status-message">{notice}</p>
      {error && <p role="alert">{error}</p>}
      {accounts.searched && accounts.items.length === 0 && !error && <p>No account matches.</p>}
      {accounts.items.length > 0 && (
        <TableWrap label="Accounts found">
          <table className="ops-table">
            <caption className="visually-hidden">Accounts found</caption>
            <thead>
              <tr><th scope="col">Display name</th><th scope="col">Username</th><th scope="col">Account id</th>
                <th scope="col">Standing</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
            </thead>
            <tbody>
              {accounts.items.map((a) => (
                <tr key={a.account_id} data-testid="account-row" className={selected === a.account_id ? "ops-selected" : undefined}
                  onClick={() => setSelected(a.account_id)}>
                  <th scope="row">{a.display_name}</th>
                  <td>{a.username ?? <span className="muted">guest</span>}</td>
                  <td><code>{a.account_id}</code></td>
                  <td><Standing account={a} /></td>
                  <td>
                    <button type="button" className="button-secondary" aria-pressed={selected === a.account_id}
                      onClick={(ev) => { ev.stopPropagation(); setSelected(selected === a.account_id ? null : a.account_id); }}>
                      Manage<span className="visually-hidden"> {a.display_name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {accounts.next && (
        <button type="button" className="button-secondary" disabled={busy} onClick={() => void load(accounts.query, accounts.next)}>
          Show more accounts
        </button>
      )}
      {account && <ManageAccount key={account.account_id} account={account} onNotice={setNotice} />}
    </OpsPage>
  );
}

function Standing({ account }: { account: AdminAccount }) {
  if (!account.banned && !account.muted) return <span className="badge ops-ok">in good standing</span>;
  return (
    <span className="row">
      {account.banned && <span className="badge ops-bad">banned {account.banned.until ? `until ${new Date(account.banned.until).toLocaleString()}` : "until lifted"}</span>}
      {account.muted && <span className="badge ops-warn">muted {account.muted.until ? `until ${new Date(account.muted.until).toLocaleString()}` : ""}</span>}
    </span>
  );
}

/** The key for this action: the one a failed try of the same action used, else a new one (kept until settled). */
function keyFor(dispatch: AppDispatch, pending: Record<string, string>, name: string): string {
  const key = pending[name] || newIdempotencyKey();
  dispatch(actionStarted({ name, key }));
  return key;
}

/** Whether a failed request may have been applied, so a retry must send the same key. */
function retryable(err: unknown): boolean {
  return !(err instanceof ApiError) || err.status === 0 || err.status >= 500;
}

function ManageAccount({ account, onNotice }: { account: AdminAccount; onNotice: (text: string) => void }) {
  return (
    <section className="card ops-manage" aria-labelledby="ops-manage-title">
      <h2 id="ops-manage-title">Manage {account.display_name}</h2>
      <p className="muted">Account <code>{account.account_id}</code>{account.username ? `, username ${account.username}` : ", a guest"}.</p>
      <Standing account={account} />
      <div className="grid ops-actions">
        {account.banned ? <UnbanForm account={account} onNotice={onNotice} /> : <BanForm account={account} onNotice={onNotice} />}
        <GrantForm account={account} onNotice={onNotice} />
      </div>
    </section>
  );
}

async function refreshStanding(dispatch: AppDispatch, token: string, accountId: string) {
  const state = await opsApi.moderation(token, accountId);
  dispatch(accountModerated({ accountId, ban: state.ban, mute: state.mute }));
}

function BanForm({ account, onNotice }: { account: AdminAccount; onNotice: (text: string) => void }) {
  const dispatch = useAppDispatch();
  const token = useServiceToken();
  const pending = useAppSelector((s) => s.ops.pending);
  const [reason, setReason] = useState("");
  const [length, setLength] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev: React.FormEvent) => {
    ev.preventDefault();
    if (!reason.trim()) return setError("Give a reason: it is kept in the moderation log.");
    const name = actionName("ban", account.account_id, reason.trim(), length);
    const key = keyFor(dispatch, pending, name);
    setBusy(true);
    setError(null);
    try {
      await opsApi.moderate(token, account.account_id, "ban", reason.trim(), key, length || undefined);
      dispatch(actionSettled(name));
      await refreshStanding(dispatch, token, account.account_id);
      onNotice(`Banned ${account.display_name}.`);
    } catch (err) {
      if (!retryable(err)) dispatch(actionSettled(name));
      setError(opsProblem(err, "commerce"));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="ops-ban-title">
      <h3 id="ops-ban-title">Ban</h3>
      <div className="field">
        <label htmlFor="ops-ban-reason">Reason for the ban</label>
        <input id="ops-ban-reason" value={reason} maxLength={500} onChange={(ev) => setReason(ev.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="ops-ban-length">How long</label>
        <select id="ops-ban-length" value={length} onChange={(ev) => setLength(Number(ev.target.value))}>
          {BAN_LENGTHS.map((b) => <option key={b.seconds} value={b.seconds}>{b.label}</option>)}
        </select>
      </div>
      {error && <p role="alert">{error}</p>}
      <button type="submit" className="button-danger" disabled={busy}>Ban {account.display_name}</button>
    </form>
  );
}

function UnbanForm({ account, onNotice }: { account: AdminAccount; onNotice: (text: string) => void }) {
  const dispatch = useAppDispatch();
  const token = useServiceToken();
  const pending = useAppSelector((s) => s.ops.pending);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev: React.FormEvent) => {
    ev.preventDefault();
    if (!reason.trim()) return setError("Give a reason: it is kept in the moderation log.");
    const name = actionName("unban", account.account_id, reason.trim());
    const key = keyFor(dispatch, pending, name);
    setBusy(true);
    setError(null);
    try {
      await opsApi.moderate(token, account.account_id, "unban", reason.trim(), key);
      dispatch(actionSettled(name));
      await refreshStanding(dispatch, token, account.account_id);
      onNotice(`Lifted the ban of ${account.display_name}.`);
    } catch (err) {
      if (!retryable(err)) dispatch(actionSettled(name));
      setError(opsProblem(err, "commerce"));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="ops-unban-title">
      <h3 id="ops-unban-title">Lift the ban</h3>
      {account.banned && <p className="muted">Banned by {account.banned.by}: “{account.banned.reason}”.</p>}
      <div className="field">
        <label htmlFor="ops-unban-reason">Reason for lifting it</label>
        <input id="ops-unban-reason" value={reason} maxLength={500} onChange={(ev) => setReason(ev.target.value)} />
      </div>
      {error && <p role="alert">{error}</p>}
      <button type="submit" disabled={busy}>Unban {account.display_name}</button>
    </form>
  );
}

function GrantForm({ account, onNotice }: { account: AdminAccount; onNotice: (text: string) => void }) {
  const dispatch = useAppDispatch();
  const token = useServiceToken();
  const pending = useAppSelector((s) => s.ops.pending);
  const [currency, setCurrency] = useState<Currency>("soft");
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev: React.FormEvent) => {
    ev.preventDefault();
    const n = Number(amount);
    if (!Number.isInteger(n) || n < 1) return setError("The amount is a whole number of at least 1.");
    if (!reason.trim()) return setError("Give a reason: it is kept in the ledger.");
    const name = actionName("grant", account.account_id, currency, n, reason.trim());
    const key = keyFor(dispatch, pending, name);
    setBusy(true);
    setError(null);
    try {
      await opsApi.grant(token, account.account_id, currency, n, reason.trim(), key);
      dispatch(actionSettled(name));
      setAmount("");
      setReason("");
      onNotice(`Granted ${n} ${currency} to ${account.display_name}.`);
    } catch (err) {
      if (!retryable(err)) dispatch(actionSettled(name));
      setError(opsProblem(err, "commerce") + (retryable(err) ? " Submitting again retries the same grant; it is not paid twice." : ""));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="ops-grant-title">
      <h3 id="ops-grant-title">Grant currency</h3>
      <div className="field">
        <label htmlFor="ops-grant-currency">Currency</label>
        <select id="ops-grant-currency" value={currency} onChange={(ev) => setCurrency(ev.target.value as Currency)}>
          {CURRENCIES.map((c) => <option key={c} value={c}>{c}</option>)}
        </select>
      </div>
      <div className="field">
        <label htmlFor="ops-grant-amount">Amount</label>
        <input id="ops-grant-amount" inputMode="numeric" value={amount} onChange={(ev) => setAmount(ev.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="ops-grant-reason">Reason for the grant</label>
        <input id="ops-grant-reason" value={reason} maxLength={200} onChange={(ev) => setReason(ev.target.value)} />
      </div>
      {error && <p role="alert">{error}</p>}
      <button type="submit" disabled={busy}>Grant to {account.display_name}</button>
    </form>
  );
}
