"""Real-money payments for premium currency packs: providers (Stripe, a local sandbox), the
webhook's events, and the ledger operations that credit and debit them (docs/commerce.md, "Payments")."""
