"""A local stand-in for the part of Stripe's HTTP API commerce calls, for the real ``stripe`` library.

``POST /v1/checkout/sessions`` takes the form-encoded parameters the library sends, checks the
secret key (``Authorization: Bearer``), honours ``Idempotency-Key`` as Stripe does (the same key
answers the same session; the same key with other parameters is a 400 ``idempotency_error``)
and answers a Checkout Session object. ``fail_next`` makes the next calls answer 500.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class StripeStandIn:
    secret_key: str
    url: str = ""  # where it listens, once started
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, tuple[str, str]] = field(default_factory=dict)  # idempotency key -> (params, session id)
    calls: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self.create_session)
        return app

    @staticmethod
    def _error(status: int, kind: str, message: str) -> web.Response:
        return web.Response(status=status, content_type="application/json",
                            text=json.dumps({"error": {"type": kind, "message": message}}))

    async def create_session(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        key = request.headers.get("Idempotency-Key")
        self.calls.append({"form": form, "idempotency_key": key, "auth": request.headers.get("Authorization")})
        if request.headers.get("Authorization") != f"Bearer {self.secret_key}":
            return self._error(401, "invalid_request_error", "Invalid API Key provided")
        if self.fail_next:
            self.fail_next -= 1
            return self._error(500, "api_error", "Something went wrong on Stripe's end")
        params = json.dumps(form, sort_keys=True)
        if key in self.by_key:
            seen, session_id = self.by_key[key]
            if seen != params:
                return self._error(400, "idempotency_error", "Keys for idempotent requests can only be used with "
                                                             "the same parameters they were first used with")
            return web.json_response(self.sessions[session_id])
        for required in ("mode", "success_url", "line_items[0][price_data][unit_amount]"):
            if required not in form:
                return self._error(400, "invalid_request_error", f"Missing required param: {required}")
        session_id = f"cs_test_{uuid.uuid4().hex}"
        meta = {k[len("metadata["):-1]: v for k, v in form.items() if k.startswith("metadata[")}
        session = {"id": session_id, "object": "checkout.session", "mode": form["mode"],
                   "url": f"https://checkout.stripe.test/c/pay/{session_id}", "status": "open",
                   "payment_status": "unpaid", "client_reference_id": form.get("client_reference_id"),
                   "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
                   "currency": form["line_items[0][price_data][currency]"], "metadata": meta,
                   "payment_intent": None, "success_url": form["success_url"]}
        self.sessions[session_id] = session
        if key:
            self.by_key[key] = (params, session_id)
        return web.json_response(session)

    def completed_event(self, session_id: str) -> dict[str, Any]:
        """The ``checkout.session.completed`` Stripe would send once the player paid."""
        session = {**self.sessions[session_id], "status": "complete", "payment_status": "paid",
                   "payment_intent": f"pi_{session_id[8:32]}"}
        self.sessions[session_id] = session
        return {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "api_version": "2025-01-01",
                "type": "checkout.session.completed", "created": 0, "livemode": False,
                "pending_webhooks": 1, "data": {"object": session}}
