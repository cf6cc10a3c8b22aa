# secrets-broker: a sidecar serving one small secrets API over a Unix socket.
#
# Build:  docker build -t secrets-broker:0.1.0 .
# Run:    docker run --read-only --tmpfs /tmp -v broker-socket:/run/secrets-broker secrets-broker:0.1.0
#
# The runtime matches the Node version the test suite runs on (scripts/node24.sh); pass
# --build-arg NODE_IMAGE=... to move it.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

FROM ${NODE_IMAGE} AS build
# Only for builds behind a TLS-intercepting proxy: a CA bundle mounted into the build. Empty means Node's own roots.
ARG NODE_EXTRA_CA_CERTS=
WORKDIR /src
COPY package.json package-lock.json ./
# Lifecycle scripts are not needed by any dependency and are refused so that a compromised package cannot run code here.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY agent ./agent
# The build writes what the agent reads beside its modules (the OpenAPI document); the bundle, with its chunks,
# then takes the place of dist/ and node_modules: less to read and compile at start.
RUN npm run build --silent && node scripts/bundle.mjs

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    SECRETS_BROKER_SOCKET=/run/secrets-broker/broker.sock
WORKDIR /app
# package.json marks the bundle as ES modules and gives `version` its number.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/dist/bundle ./dist
# V8's compiled code for every module, made here once so that each start reads it instead of compiling again.
# Node keys the cache by its version, its V8 flags and the user id: made as the broker's user, then frozen (the
# root filesystem is read-only in the pod anyway; a module the cache misses is simply compiled). Made as a start
# loads the modules: main.js and what it imports before the broker sets its V8 flags (agent/heap-tuning.ts), then
# every chunk after them; V8 refuses code compiled under other flags.
ENV NODE_COMPILE_CACHE=/app/compile-cache
# One malloc arena for every thread. glibc otherwise gives each thread that allocates (libuv's pool for file
# operations, V8's collector helpers) an arena of its own; measured under a load of cached reads, that kept
# 7 to 11 MiB more resident, with no difference in CPU per read (the broker allocates on its main thread).
ENV MALLOC_ARENA_MAX=1
RUN mkdir -p /app/compile-cache && chown 10001:10001 /app/compile-cache \
 && setpriv --reuid 10001 --regid 10001 --clear-groups node --input-type=module -e \
    'const { tuneHeap } = await import("/app/dist/main.js"); tuneHeap(); \
     for (const f of (await import("node:fs")).readdirSync("/app/dist/chunks")) \
       if (f.endsWith(".js")) await import("/app/dist/chunks/" + f);' \
 && chown -R root:root /app/compile-cache && chmod -R a+rX,go-w /app/compile-cache
# The socket directory exists in the image, owned by the broker's user, so that an empty named volume mounted there
# (docker compose) starts with that owner; in Kubernetes an emptyDir replaces it.
RUN mkdir -p /run/secrets-broker && chown 10001:10001 /run/secrets-broker && chmod 0750 /run/secrets-broker
# Numeric, so that runAsNonRoot can be verified by the kubelet without reading /etc/passwd.
USER 10001:10001
# The secrets API listens on the socket and on loopback only; this is the optional health listener of the manifests.
EXPOSE 8081
# Node runs as PID 1 and handles SIGTERM itself (drain, release locks, unlink the socket, exit 0).
ENTRYPOINT ["node", "/app/dist/main.js", "serve"]
