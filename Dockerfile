# secrets-gateway images.
#   docker build -t secrets-gateway .               production (the default, last stage)
#   docker build --target dev -t secrets-gateway:dev .   dev mode with the embedded KMS emulator
# The production image holds dist/, bin/, proto/ and production dependencies only: no emulator,
# no node-forge, no demo secrets, no tests, no TypeScript. scripts/image-tree.sh runs these same
# stage commands without a container engine and checks that tree (CI does).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The emulator is a dev dependency (file:packages/kms-emulator): npm ci needs its manifest.
COPY packages/kms-emulator/package.json packages/kms-emulator/package.json
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY proto ./proto
RUN npm run build

FROM build AS prod-deps
RUN npm prune --omit=dev --no-audit --no-fund

# Dev mode: the whole toolchain, the emulator and its demo secrets; listens on all interfaces of
# the container (publish the ports to loopback: docker run -p 127.0.0.1:50051:50051 …).
FROM build AS dev
COPY packages ./packages
COPY bin ./bin
ENV SECRETS_GATEWAY_LISTEN=0.0.0.0:50051 SECRETS_GATEWAY_ADMIN_LISTEN=0.0.0.0:9464
EXPOSE 50051 9464
ENTRYPOINT ["node", "bin/secrets-gateway.js"]
CMD ["dev"]

FROM node:20-bookworm-slim AS production
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY proto ./proto
USER node
EXPOSE 50051 9464
# gRPC health over the container's loopback (TLS when configured), as the k8s probes do.
HEALTHCHECK --interval=20s --timeout=5s --start-period=30s --retries=3 CMD ["node", "bin/healthcheck.js", "ready"]
# Exec form: SIGTERM reaches node directly, which drains streams and shuts down in order.
ENTRYPOINT ["node", "bin/secrets-gateway.js"]
CMD ["serve"]
