# Multi-stage build: compile with dev dependencies, run on production dependencies and dist/ only.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY test ./test
COPY bench ./bench
RUN npx tsc -b

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/workers ./dist/workers
USER node
EXPOSE 8080
# Exec form: SIGTERM reaches Node directly and the agent closes its control-plane socket with 1000.
CMD ["node", "dist/src/cli.js", "run"]
