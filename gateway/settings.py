"""Gateway settings, read once from ``ELYSIUM_*`` variables.

The upstream URLs are the names ``elysium up`` gives every service (``ELYSIUM_COMMERCE_URL`` and so on),
so a gateway started by the stack, or by hand beside it, finds the others without more configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elysium.config import ConfigError, between, http_url, setting

REPOSITORY_WEB_DIST = Path(__file__).resolve().parents[1] / "web" / "dist"

# service -> the variable holding its base URL
UPSTREAM_VARIABLES = {"commerce": "ELYSIUM_COMMERCE_URL", "matchmaker": "ELYSIUM_MATCHMAKER_URL",
                      "spectator": "ELYSIUM_SPECTATOR_URL", "butler": "ELYSIUM_BUTLER_URL"}


@dataclass(frozen=True)
class GatewaySettings:
    host: str = setting("ELYSIUM_GATEWAY_HOST", "127.0.0.1", "Address the gateway listens on")
    port: int = setting("ELYSIUM_GATEWAY_PORT", 7400, "Port of the web client, its APIs, /graphql and "
                        "/healthz, /readyz, /metrics", check=between(0, 65535))
    commerce_url: str = setting("ELYSIUM_COMMERCE_URL", "", "Base URL of commerce (http://host:port), served "
                                "under /api/commerce", check=http_url)
    matchmaker_url: str = setting("ELYSIUM_MATCHMAKER_URL", "", "Base URL of the matchmaker, served under "
                                  "/api/matchmaker (and asked where game servers are)", check=http_url)
    spectator_url: str = setting("ELYSIUM_SPECTATOR_URL", "", "Base URL of a spectator relay (http://host:port), "
                                 "served under /api/spectator", check=http_url)
    butler_url: str = setting("ELYSIUM_BUTLER_URL", "", "Base URL of the butler, served under /api/butler",
                              check=http_url)
    web_dir: str = setting("ELYSIUM_GATEWAY_WEB_DIR", "", "Folder of the built web client (default: web/dist in "
                           "the repository); unbuilt, / answers a page saying how to build it")
    grafana_url: str = setting("ELYSIUM_GRAFANA_URL", "", "Grafana's address, shown to operators by the status "
                               "route (optional)", check=http_url)
    graphiql: bool = setting("ELYSIUM_GATEWAY_GRAPHIQL", False, "Serve the GraphiQL page at GET /graphql")
    max_body_bytes: int = setting("ELYSIUM_GATEWAY_MAX_BODY_BYTES", 1024 ** 2, "Largest request body passed to a "
                                  "service (a larger one answers 413)", unit="bytes",
                                  check=between(1024, 64 * 1024 ** 2))
    connect_timeout_s: float = setting("ELYSIUM_GATEWAY_CONNECT_TIMEOUT_S", 5.0, "Deadline to connect to a service; "
                                       "past it the request answers 502", unit="s", check=between(0.1, 60))
    response_timeout_s: float = setting("ELYSIUM_GATEWAY_RESPONSE_TIMEOUT_S", 30.0,
                                        "Deadline for a service to begin its answer (streams then run as long as "
                                        "they send); past it the request answers 504", unit="s",
                                        check=between(0.5, 600))
    idle_timeout_s: float = setting("ELYSIUM_GATEWAY_IDLE_TIMEOUT_S", 300.0, "Longest silence inside a streamed "
                                    "answer before the gateway gives it up", unit="s", check=between(1, 3600))
    max_upstream_connections: int = setting("ELYSIUM_GATEWAY_MAX_UPSTREAM_CONNECTIONS", 4096,
                                            "Connections to the services open at once, open streams and websockets "
                                            "included; past it a request waits its connect deadline, then answers 502",
                                            check=between(16, 1_000_000))
    status_cache_s: float = setting("ELYSIUM_GATEWAY_STATUS_CACHE_S", 3.0, "How long the services' readiness "
                                    "(the status route) is reused", unit="s", check=between(0, 60))
    servers_cache_s: float = setting("ELYSIUM_GATEWAY_SERVERS_CACHE_S", 2.0, "How long the matchmaker's list of game "
                                     "servers is reused", unit="s", check=between(0, 60))
    drain_timeout_s: float = setting("ELYSIUM_GATEWAY_DRAIN_TIMEOUT_S", 10.0, "On SIGTERM, how long requests and "
                                     "streams in flight may run before the process exits", unit="s",
                                     check=between(0.5, 600))
    log_level: str = setting("ELYSIUM_LOG_LEVEL", "info", "Log level")

    def validate(self) -> None:
        for service, variable in UPSTREAM_VARIABLES.items():
            if not getattr(self, f"{service}_url"):
                raise ConfigError(variable, f"is not set; give {service}'s base URL (http://host:port)")
        if self.web_dir and Path(self.web_dir).exists() and not Path(self.web_dir).is_dir():
            raise ConfigError("ELYSIUM_GATEWAY_WEB_DIR", f"{self.web_dir} is not a folder")

    def upstream_urls(self) -> dict[str, str]:
        return {service: getattr(self, f"{service}_url") for service in UPSTREAM_VARIABLES}

    def web_root(self) -> Path:
        return Path(self.web_dir).resolve() if self.web_dir else REPOSITORY_WEB_DIST
