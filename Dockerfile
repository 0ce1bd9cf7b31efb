# Parley in a container: `docker build -t parley .` then
# `docker run -v parley-data:/app/data -e OPENAI_API_KEY=... parley`
FROM python:3.11-slim

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
RUN pip install . && mkdir -p /app/data && chown parley:parley /app/data
COPY bots.yaml ./

USER parley
# The conversation database, its WAL and the tokenizer cache live here.
VOLUME ["/app/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["parley", "health"]
CMD ["parley", "run"]
