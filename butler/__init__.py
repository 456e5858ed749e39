"""The butler: the AI concierge sidecar (docs/butler.md)."""
