# Trainyard in a container: the web process by default (`npm start`: migrate, then serve on $PORT), or the
# run supervisor alone (`docker run … trainyard npm run worker`). Configured by environment only (see
# .env.example and docs/deployment.md):
#   docker build -t trainyard .
#   docker run -d --env-file trainyard.env -p 3000:3000 trainyard

# --- build: better-sqlite3 compiles when no prebuilt binary fits, which needs python3, make and g++ ---
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The whole tree (less .dockerignore) before `npm ci`: its postinstall generates the Prisma clients from
# prisma/ and prisma.config.ts. Dev dependencies stay: the Remix compiler needs them to build.
COPY . .
RUN npm ci && npm run build

# --- runtime: no compiler ---
FROM node:20-bookworm-slim
# python3: the local GPU provider runs the agent (scripts/agent/, standard library only) on this machine;
# ca-certificates: the agent's HTTPS downloads (presigned S3 URLs); tini: a PID 1 that passes docker stop's
# SIGTERM on (the server then finishes its supervisor cycle and gives its leases back) and reaps the
# agents' processes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=3000 \
    CHECKPOINT_DISABLE=1
WORKDIR /app
# Owned by root and read-only to the app: it writes only under data/ (and /tmp).
COPY --from=build /app /app
# The SQLite default, STORAGE_DIR, the mail outbox and the local GPU provider's records: all under data/.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 3000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["npm", "start"]
