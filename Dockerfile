# The Train API service image: `docker build -t trainkit-api .`, then
# `docker run -p 8080:8080 -e TRAINKIT_API_KEYS='{"<key>":["<account>"]}' -e DATABASE_URL=... trainkit-api`.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/server/package.json ./packages/server/
RUN npm ci
COPY tsconfig.json tsconfig.build.json LICENSE ./
COPY packages/server/tsconfig.json ./packages/server/
COPY src ./src
COPY examples/quickstart ./examples/quickstart
# The packed service carries its build, the quickstart example and its production dependencies only.
RUN cd packages/server && npm pack --pack-destination /tmp && mkdir /service \
    && tar -xzf /tmp/trainkit-server-*.tgz -C /service --strip-components=1 \
    && cd /service && npm install --omit=dev --no-package-lock

FROM node:24-slim
# Listen on every interface inside the container; the platform in front decides who reaches it.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    TRAINKIT_DATA_DIR=/var/lib/trainkit
WORKDIR /app
COPY --from=build /service ./
RUN mkdir -p /var/lib/trainkit && chown node:node /var/lib/trainkit
USER node
EXPOSE 8080
CMD ["node", "dist/server/main.js"]
