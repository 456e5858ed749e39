"""Commerce: accounts, wallets with an audited ledger, the item store, inventory and match rewards.

Pure cores (no I/O): :mod:`commerce.ledger`, :mod:`commerce.catalog`, :mod:`commerce.pricing`,
:mod:`commerce.rules`, :mod:`commerce.audit`, :mod:`commerce.validation`.
Adapters: :mod:`commerce.store` (MongoDB), :mod:`commerce.accounts`, :mod:`commerce.economy`,
:mod:`commerce.rewards` (Redis results stream), :mod:`commerce.ratelimit` (Redis); the HTTP routes
are :mod:`commerce.api` and :mod:`commerce.openapi`, on the shared edge :mod:`elysium.http`.
The service is wired in one place: :func:`commerce.app.create_app`. See ``docs/commerce.md``.
"""
