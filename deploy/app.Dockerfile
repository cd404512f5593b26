# The VeroAI application image, for deploy/docker-compose.yml:
#   docker build -f deploy/app.Dockerfile -t veroai .
# `veroai <command>` is the entrypoint; the default command runs the main job.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

# rocksdb ships prebuilt binaries for common platforms; the toolchain builds it elsewhere
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*

COPY package.json package-lock.json ./
# npm ci applies patches/ (patch-package) to dependencies
COPY patches ./patches
RUN npm ci --omit=dev && npm cache clean --force

COPY . .
RUN mkdir -p /app/.state && chown node:node /app/.state

# the API (and /metrics) must be reachable from outside the container
ENV API_HOST=0.0.0.0 API_PORT=8080 STATE_DIR=/app/.state
# a bounded old space (as a JVM's -Xmx); the young generation is the entrypoint's (cli/node-flags.ts):
# records die young by the million (README, "State stores" > Memory)
ENV NODE_OPTIONS="--max-old-space-size=256"
EXPOSE 8080
USER node
ENTRYPOINT ["node", "--max-semi-space-size=32", "--no-allocation-site-pretenuring", "bin/veroai.js"]
CMD ["run"]
