"""The gateway: one origin for the web client (its static files, the services' APIs and GraphQL)."""
