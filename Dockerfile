# secrets-gateway production image. Build: docker build -t secrets-gateway .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY proto ./proto
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY proto ./proto
# The demo secrets, so `docker run … dev` has something to serve.
COPY examples/emulator ./examples/emulator
USER node
EXPOSE 50051
# Exec form: SIGTERM reaches node directly, which drains streams and shuts down in order.
ENTRYPOINT ["node", "bin/secrets-gateway.js"]
CMD ["serve"]
