import { useEffect, useRef, useState } from "react";
import { useAppDispatch, useAppSelector } from "../../store";
import { checkoutOpened, checkoutSettled } from "../../features/market/marketSlice";
import { checkout, checkoutHref, getLedger, linkWallet, paySandbox, unlinkWallet, walletChallenge } from "../../features/market/commerce";
import { readWalletView } from "../../features/market/reads";
import { injectedWallet, requestAccount, signMessage, walletErrorText } from "../../features/market/ethereum";
import { CURRENCY_NAMES, fiat, money, when } from "../../features/market/format";
import type { LedgerEntry, Pack, Payment } from "../../features/market/types";
import { Alert, MarketNav, SignInFirst, Status, errorText, useKeyedAction, useLoad, useSignedIn, walletChanged } from "./common";
import "./market.css";

const LEDGER_PAGE = 20;
const POLL_MS = 2000;
const PAYMENT_STATES: Record<string, string> = {
  pending: "waiting for payment", paid: "paid", partially_refunded: "partly refunded", refunded: "refunded", disputed: "disputed",
};

export function WalletPage() {
  const me = useSignedIn();
  const dispatch = useAppDispatch();
  const pending = useAppSelector((s) => s.market.pendingPayment);
  const view = useLoad(() => readWalletView(), [me], !!me);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  // While a checkout is open, poll until its payment is no longer pending, and at once when the tab is back.
  const reload = view.reload;
  useEffect(() => {
    if (!pending || !me) return;
    const timer = setInterval(reload, POLL_MS);
    const back = () => { if (document.visibilityState === "visible") reload(); };
    document.addEventListener("visibilitychange", back);
    window.addEventListener("focus", back);
    return () => { clearInterval(timer); document.removeEventListener("visibilitychange", back); window.removeEventListener("focus", back); };
  }, [pending, me, reload]);
  const payment = view.data?.payments.find((p) => p.payment_id === pending);
  useEffect(() => {
    if (payment && payment.state !== "pending") {
      dispatch(checkoutSettled());
      walletChanged();
      if (payment.state === "paid") setNotice(`Payment received: ${money(payment.premium, "premium")} added to your wallet.`);
      else setNotice(`The payment is ${PAYMENT_STATES[payment.state] ?? payment.state}.`);
    }
  }, [payment, dispatch]);

  if (!me) return <SignInFirst title="Wallet" what="see your balances" />;
  const w = view.data?.wallet;
  const said = (t: string) => { setNotice(t); setError(null); reload(); };
  const failed = (e: unknown) => { setError(e); setNotice(null); };

  return (
    <main id="main" className="market">
      <h1>Wallet</h1>
      <MarketNav />
      <Alert error={view.error} />
      {notice ? <Status>{notice}</Status> : null}
      <Alert error={error} />
      <section className="market-card" aria-labelledby="wallet-balances">
        <h2 id="wallet-balances">Balances</h2>
        {w ? (
          <p className="market-balances" data-testid="balances">
            <span>Coins: <strong data-testid="balance-soft">{(w.balances.soft ?? 0).toLocaleString("en")}</strong></span>
            <span>Gems: <strong data-testid="balance-premium">{(w.balances.premium ?? 0).toLocaleString("en")}</strong></span>
          </p>
        ) : view.loading ? <Status>Loading your wallet…</Status> : null}
        {w?.debts?.filter((d) => d.remaining > 0).map((d, i) => (
          <p key={i} className="market-muted">You owe {money(d.remaining, d.currency)} after a refund; new credits pay it first.</p>
        ))}
      </section>

      <Packs packs={view.data?.packs ?? []} payments={view.data?.payments ?? []} pending={pending}
        onOpened={(id) => dispatch(checkoutOpened(id))} onDone={said} onError={failed} />
      <WalletLink address={view.data?.profile.eth_address ?? null} onDone={said} onError={failed} />
      <Ledger me={me} refresh={w} />
    </main>
  );
}

function Packs({ packs, payments, pending, onOpened, onDone, onError }: {
  packs: Pack[]; payments: Payment[]; pending: string | null; onOpened: (id: string) => void;
  onDone: (t: string) => void; onError: (e: unknown) => void;
}) {
  const run = useKeyedAction();
  const [busy, setBusy] = useState<string | null>(null);
  const [opened, setOpened] = useState<Payment | null>(null);
  const current = opened && opened.payment_id === pending ? opened : payments.find((p) => p.payment_id === pending) ?? null;

  const buy = async (pack: Pack) => {
    // A tab opened within the click is not a blocked pop-up; it is pointed at the checkout once it exists.
    const tab = typeof window.open === "function" ? window.open("", "_blank") : null;
    setBusy(pack.id);
    try {
      const p = await run(`checkout:${pack.id}`, (key) => checkout(pack.id, key));
      setOpened(p);
      onOpened(p.payment_id);
      const href = checkoutHref(p);
      if (tab && href) {
        if (p.provider !== "sandbox") tab.opener = null;
        tab.location.href = href;
      } else tab?.close();
      onDone(`Checkout opened for ${pack.name}. This page updates when the payment arrives.`);
    } catch (e) {
      tab?.close();
      onError(e);
    } finally {
      setBusy(null);
    }
  };
  const pay = async (p: Payment) => {
    setBusy(p.payment_id);
    try {
      const paid = await paySandbox(p.payment_id);
      onDone(paid.state === "paid" ? "Sandbox payment made; crediting your gems…" : `The payment is ${paid.state}.`);
    } catch (e) {
      onError(e);
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="market-card" aria-labelledby="wallet-packs">
      <h2 id="wallet-packs">Buy gems</h2>
      {packs.length === 0 ? <p className="market-muted">No gem packs are on sale.</p> : (
        <ul className="market-grid" aria-label="Gem packs">
          {packs.map((pack) => (
            <li key={pack.id} className="market-tile" data-testid="pack">
              <strong>{pack.name}</strong>
              <span>{money(pack.premium, "premium")} for {fiat(pack.price, pack.currency)}</span>
              <button type="button" onClick={() => buy(pack)} disabled={busy !== null}>Buy {pack.name}</button>
            </li>
          ))}
        </ul>
      )}
      {current && current.state === "pending" ? (
        <div className="market-confirm" data-testid="pending-payment">
          <p role="status">Waiting for the payment of {money(current.premium, "premium")} ({fiat(current.price, current.currency)})…</p>
          {checkoutHref(current) ? (
            <a href={checkoutHref(current) as string} target="_blank" rel={current.provider === "sandbox" ? undefined : "noopener noreferrer"}>
              Open the checkout page
            </a>
          ) : null}
          {current.provider === "sandbox" ? (
            <button type="button" onClick={() => pay(current)} disabled={busy !== null}>Pay in the sandbox</button>
          ) : null}
        </div>
      ) : null}
      {payments.length ? (
        <div className="market-table-wrap" tabIndex={0} role="region" aria-label="Scrollable table">
          <table className="market-table">
            <caption>Recent payments</caption>
            <thead><tr><th scope="col">When</th><th scope="col">Gems</th><th scope="col">Price</th><th scope="col">State</th></tr></thead>
            <tbody>
              {payments.map((p) => (
                <tr key={p.payment_id} data-testid="payment-row">
                  <td>{when(p.created_at)}</td><td>{p.premium.toLocaleString("en")}</td>
                  <td>{fiat(p.price, p.currency)}</td><td>{PAYMENT_STATES[p.state] ?? p.state}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function WalletLink({ address, onDone, onError }: { address: string | null; onDone: (t: string) => void; onError: (e: unknown) => void }) {
  const [busy, setBusy] = useState(false);
  const [step, setStep] = useState<string | null>(null);
  const eth = injectedWallet();

  const link = async () => {
    if (!eth) return;
    setBusy(true);
    try {
      setStep("Asking the wallet for an account…");
      const account = await requestAccount(eth);
      setStep("Asking commerce for a message to sign…");
      const challenge = await walletChallenge(account);
      setStep("Sign the message in your wallet…");
      const signature = await signMessage(eth, challenge.message, challenge.address);
      setStep("Checking the signature…");
      const profile = await linkWallet(challenge.message, signature);
      onDone(`Wallet ${profile.eth_address} linked.`);
    } catch (e) {
      onError(e instanceof Error && !("problem" in e) ? new Error(walletErrorText(e)) : e);
    } finally {
      setStep(null);
      setBusy(false);
    }
  };
  const unlink = async () => {
    setBusy(true);
    try {
      await unlinkWallet();
      onDone("Wallet unlinked.");
    } catch (e) {
      onError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="market-card" aria-labelledby="wallet-link">
      <h2 id="wallet-link">Ethereum wallet</h2>
      {address ? (
        <>
          <p>Linked: <span className="market-code" data-testid="linked-address">{address}</span></p>
          <p className="market-muted">Items you withdraw are minted to this address.</p>
          <button type="button" className="market-danger" onClick={unlink} disabled={busy}>Unlink wallet</button>
        </>
      ) : eth ? (
        <>
          <p>Link a wallet by signing a Sign-In with Ethereum message; no transaction is sent.</p>
          <button type="button" onClick={link} disabled={busy}>Link a wallet</button>
          {step ? <p role="status">{step}</p> : null}
        </>
      ) : (
        <p data-testid="no-wallet">No injected wallet was found in this browser. Install or enable a wallet extension to link an address.</p>
      )}
    </section>
  );
}

function Ledger({ me, refresh }: { me: string; refresh: unknown }) {
  const [befores, setBefores] = useState<(string | undefined)[]>([undefined]);
  const before = befores[befores.length - 1];
  const first = useRef(true);
  const page = useLoad(() => getLedger(LEDGER_PAGE, before), [me, before]);
  // A new balance means new entries: the first page reads again.
  const reload = page.reload;
  useEffect(() => {
    if (first.current) { first.current = false; return; }
    if (befores.length === 1) reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [refresh]);
  const entries: LedgerEntry[] = page.data ?? [];
  return (
    <section className="market-card" aria-labelledby="wallet-ledger">
      <h2 id="wallet-ledger">Ledger</h2>
      {page.error ? <p role="alert" className="market-alert">{errorText(page.error)}</p> : null}
      {page.data && entries.length === 0 ? <p>No entries{befores.length > 1 ? " on this page" : " yet"}.</p> : null}
      {entries.length ? (
        <div className="market-table-wrap" tabIndex={0} role="region" aria-label="Scrollable table">
          <table className="market-table">
            <caption>Newest first</caption>
            <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Change</th><th scope="col">Balance</th></tr></thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id} data-testid="ledger-row">
                  <td>{when(e.at)}</td>
                  <td>{e.reason || e.kind.replace(/_/g, " ")}</td>
                  <td>{e.delta > 0 ? "+" : ""}{e.delta.toLocaleString("en")} {CURRENCY_NAMES[e.currency] ?? e.currency}</td>
                  <td>{e.balance_after === null ? "pending" : e.balance_after.toLocaleString("en")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <nav aria-label="Ledger pages" className="market-pager">
        <button type="button" disabled={befores.length === 1} onClick={() => setBefores((b) => b.slice(0, -1))}>Newer entries</button>
        <button type="button" disabled={entries.length < LEDGER_PAGE}
          onClick={() => setBefores((b) => [...b, entries[entries.length - 1].id])}>Older entries</button>
      </nav>
    </section>
  );
}
