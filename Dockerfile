# syntax=docker/dockerfile:1
#
# One image for every Elysium service: `docker run IMAGE gameserver`, `... matchmaker`,
# `... spectator`, `... commerce`, `... butler`, `... gateway` (docs/deploy.md); the gateway
# serves the web client built in the image (docs/gateway.md).
#
# The base is pinned by exact tag. Pin its digest too at build time, without editing this file:
#   docker build --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest> .
# (docs/deploy.md, "Pinning the base image", says how to read the digest.)
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
# The web client is built with this Node (pin its digest the same way: --build-arg NODE_IMAGE=...).
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# --- build: the project's wheel and the wheels of all its dependencies -----------------------
FROM ${PYTHON_IMAGE} AS build

# A compiler only here, for a dependency that ships no wheel for this platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Exactly what the wheel is built from: the project metadata and the packages it ships.
COPY pyproject.toml README.md LICENSE ./
COPY elysium/ elysium/
COPY gameserver/ gameserver/
COPY matchmaker/ matchmaker/
COPY spectator/ spectator/
COPY commerce/ commerce/
COPY butler/ butler/
COPY gateway/ gateway/
COPY loadtest/ loadtest/

# No extras: the embedded MongoDB server (SecantusDB, GPL-2.0) and the development chain
# (eth-tester on py-evm) are for one machine only; production uses MongoDB and JSON-RPC.
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip wheel --wheel-dir /wheels .

# --- web: the browser client, built once into static files (web/dist) ------------------------
FROM ${NODE_IMAGE} AS web

WORKDIR /web
# The lock file first, so the packages are installed again only when it changes.
COPY web/package.json web/package-lock.json ./
COPY web/sdk/package.json sdk/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# --- runtime: the installed wheels and the built client, nothing else ----------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="elysium" \
      org.opencontainers.image.description="Elysium game platform: game server, matchmaker, spectator relay, commerce, butler and the web client's gateway" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# The account the services run as: numeric, so a cluster can check runAsNonRoot without
# resolving names, with no home and no login shell.
RUN groupadd --gid 10001 elysium \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin elysium

# The wheels are mounted for this one step, never copied into a layer; the virtual
# environment gets no pip of its own (the base image's pip installs into it).
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv --without-pip /opt/elysium \
 && python -m pip --python /opt/elysium/bin/python install --no-cache-dir --no-index \
      --find-links=/wheels elysium \
 && mkdir -p /srv/elysium

# The built client only (its sources and packages stay in the web stage), read-only to the services.
COPY --from=web /web/dist /opt/elysium/web

ENV PATH=/opt/elysium/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ELYSIUM_GAMESERVER_HOST=0.0.0.0 \
    ELYSIUM_MATCHMAKER_HOST=0.0.0.0 \
    ELYSIUM_SPECTATOR_HOST=0.0.0.0 \
    ELYSIUM_COMMERCE_HOST=0.0.0.0 \
    ELYSIUM_BUTLER_HOST=0.0.0.0 \
    ELYSIUM_GATEWAY_HOST=0.0.0.0 \
    ELYSIUM_GATEWAY_WEB_DIR=/opt/elysium/web \
    ELYSIUM_HEALTHCHECK_PORT=7350

WORKDIR /srv/elysium
USER 10001:10001

# gameserver, matchmaker, spectator, commerce, butler, gateway: each serves its API and its probes on one port.
EXPOSE 7350 7360 7370 7380 7390 7400

# The image runs any service, so the probe's port is a variable: set ELYSIUM_HEALTHCHECK_PORT
# to the port of the service the container runs (the default is the game server's).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os,sys,urllib.request as u; sys.exit(0 if u.urlopen('http://127.0.0.1:%s/healthz' % os.environ['ELYSIUM_HEALTHCHECK_PORT'], timeout=2).status == 200 else 1)"]

ENTRYPOINT ["elysium"]
CMD ["gameserver"]
