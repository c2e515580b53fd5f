# The Train API service image: `docker build -t trainkit-api .`, then
# `docker run -p 8080:8080 -e TRAINKIT_API_KEYS='{"<key>":["<account>"]}' -e DATABASE_URL=... trainkit-api`.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-slim
# Listen on every interface inside the container; the platform in front decides who reaches it.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    TRAINKIT_DATA_DIR=/var/lib/trainkit
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY examples/quickstart ./examples/quickstart
RUN mkdir -p /var/lib/trainkit && chown node:node /var/lib/trainkit
USER node
EXPOSE 8080
CMD ["node", "dist/server/main.js"]
