"""The audit's rules for payments and debts, over plain rows. No I/O; :mod:`commerce.store` gathers them.

- every credited payment has exactly one ``payment`` ledger entry (its id derived from the
  payment id) crediting the pack's premium to the payment's player; a pending one has none;
- every payment, refund and chargeback entry belongs to an existing payment record;
- a payment's refund entries together ask back its ``refunded_premium``, it has at most one
  chargeback asking back its ``chargeback_premium``, and the two never exceed its premium;
- every debt equals the unpaid part of its debit (``requested`` less what the entry took), and
  its ``remaining`` is that less the ``debt`` entries paid towards it, never below zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from commerce import ledger
from commerce.audit import Problem

CREDITED = ("paid", "partially_refunded", "refunded", "disputed")
PAYMENT_KINDS = ("payment", "refund", "chargeback", "debt")


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def check_payments(payments: Iterable[Mapping[str, Any]], entries: Iterable[Mapping[str, Any]],
                   debts: Iterable[Mapping[str, Any]]) -> list[Problem]:
    out: list[Problem] = []
    by_payment: dict[str, list[Mapping[str, Any]]] = {}
    debt_paid: dict[str, int] = {}
    debits: dict[str, Mapping[str, Any]] = {}
    for e in entries:
        kind = e.get("kind")
        if kind == "debt":
            debt_id = str(e.get("debt"))
            debt_paid[debt_id] = debt_paid.get(debt_id, 0) - _int(e.get("delta"))
            continue
        by_payment.setdefault(str(e.get("payment")), []).append(e)
        if kind in ("refund", "chargeback"):
            debits[str(e.get("_id"))] = e
    known: set[str] = set()
    for p in payments:
        pid = str(p.get("_id"))
        known.add(pid)
        subject = f"payment {pid}"
        mine = by_payment.get(pid, [])
        credits = [e for e in mine if e.get("kind") == "payment"]
        refunds = [e for e in mine if e.get("kind") == "refund"]
        chargebacks = [e for e in mine if e.get("kind") == "chargeback"]
        premium = _int(p.get("premium"))
        if p.get("state") in CREDITED:
            if len(credits) != 1:
                out.append(Problem("payment_credit", subject, f"state {p.get('state')} but {len(credits)} payment "
                                                              "ledger entries (exactly one expected)"))
            else:
                c = credits[0]
                if (c.get("_id") != ledger.entry_id("payment", pid, "credit") or _int(c.get("delta")) != premium
                        or c.get("account") != p.get("account") or c.get("currency") != "premium"):
                    out.append(Problem("payment_credit", subject, f"its entry {c.get('_id')} credits "
                                                                  f"{c.get('delta')!r} to {c.get('account')}, not "
                                                                  f"{premium} premium to {p.get('account')}"))
        elif mine:
            out.append(Problem("payment_credit", subject, f"state {p.get('state')!r} but {len(mine)} ledger entries"))
        asked = sum(_int(e.get("requested")) for e in refunds)
        if asked != _int(p.get("refunded_premium")):
            out.append(Problem("payment_refund", subject, f"refund entries ask back {asked} but the payment records "
                                                          f"{p.get('refunded_premium')!r}"))
        if len(chargebacks) > 1:
            out.append(Problem("payment_chargeback", subject, f"{len(chargebacks)} chargeback entries (at most one)"))
        charged = sum(_int(e.get("requested")) for e in chargebacks)
        if charged != _int(p.get("chargeback_premium")):
            out.append(Problem("payment_chargeback", subject, f"chargeback entries ask back {charged} but the "
                                                              f"payment records {p.get('chargeback_premium')!r}"))
        if asked + charged > premium:
            out.append(Problem("payment_overdebited", subject, f"{asked + charged} taken back of {premium} credited"))
    for pid in sorted(set(by_payment) - known):
        out.append(Problem("payment_orphan_entry", f"payment {pid}",
                           f"{len(by_payment[pid])} ledger entries name a payment that has no record"))
    seen_debts: set[str] = set()
    for d in debts:
        did = str(d.get("_id"))
        seen_debts.add(did)
        subject = f"debt {did}"
        debit = debits.get(did)
        amount, remaining = _int(d.get("amount")), d.get("remaining")
        if debit is None:
            out.append(Problem("debt_without_debit", subject, "no refund or chargeback entry owes it"))
        elif amount != _int(debit.get("requested")) + _int(debit.get("delta")) or amount != _int(debit.get("owed")):
            out.append(Problem("debt_amount", subject, f"amount {amount} but its debit asked {debit.get('requested')} "
                                                       f"and took {-_int(debit.get('delta'))}"))
        paid = debt_paid.get(did, 0)
        if not isinstance(remaining, int) or remaining < 0 or remaining != amount - paid or d.get("paid") != paid:
            out.append(Problem("debt_remaining", subject, f"remaining {remaining!r} (paid {d.get('paid')!r}) but "
                                                          f"{paid} of {amount} was paid by debt entries"))
    for did, debit in sorted(debits.items()):
        if _int(debit.get("owed")) > 0 and did not in seen_debts:
            out.append(Problem("debt_missing", f"ledger entry {did}", f"owes {debit.get('owed')} but has no debt"))
    for did in sorted(set(debt_paid) - seen_debts):
        out.append(Problem("debt_orphan_entry", f"debt {did}", "debt entries pay towards a debt that does not exist"))
    return out
