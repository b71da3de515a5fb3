# Multi-stage build: compile with dev dependencies, run on production dependencies and the agent only.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY test ./test
COPY bench ./bench
COPY scripts ./scripts
# Stamped into dist/build-info.json and reported by /version.
ARG BUILD_COMMIT=unknown
ARG BUILD_DATE
ENV BUILD_COMMIT=${BUILD_COMMIT} BUILD_DATE=${BUILD_DATE}
# The agent's files only: the local control plane and the sandbox API (dist/src/local), tests and
# benches stay here (scripts/runtime-files.mjs says what is kept and why).
RUN npm run build && node scripts/runtime-files.mjs /runtime

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only: node-forge, which only the local stack uses, is a dev dependency.
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /runtime/dist ./dist
USER node
EXPOSE 8080
# Exec form: SIGTERM reaches Node directly and the agent closes its control-plane socket with 1000.
CMD ["node", "dist/src/cli.js", "run"]
