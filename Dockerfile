# syntax=docker/dockerfile:1

# Build: every dependency, then the bundle (npm run build → dist/).
FROM node:24-slim AS build
WORKDIR /app
# patches/ first: npm ci applies them (postinstall: patch-package), and the
# bundle includes the patched connect.
COPY package.json package-lock.json ./
COPY patches ./patches
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY gen ./gen
COPY src ./src
COPY scripts ./scripts
RUN npm run build

# Production dependencies only: what the bundle leaves outside (sharp, libSQL).
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
# Files stay owned by root: the service user can read its code but not change it.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The migrate step (npm run migrate:prod) and the service find migrations/ beside dist/.
COPY migrations ./migrations
# Mount point of the certs volume. A new named volume takes the owner of the
# image directory it is first mounted on, so `node` can write the dev PKI
# there (certs service) and read its 0600 keys (file-service).
RUN mkdir /certs && chown node:node /certs
USER node
EXPOSE 9001 8080
# Ready once the database and object store answer (the public listener's /readyz).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# npm run start:prod, without npm in between (signals reach node directly).
CMD ["node", "dist/main.mjs"]
