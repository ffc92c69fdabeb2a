# The impulse-stream worker: `docker build -t impulse-stream .`
# Runs `impulse-stream worker`; configure with KAFKA_BOOTSTRAP_SERVERS, REDIS_URL and
# IMPULSE_STREAM_* variables (src/impulse_stream/settings.py). Web port 6066:
# /healthz, /readyz, /metrics and the customer 360 API.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# gcc compiles the decision core with mypyc (setup.py); the image has the Python headers.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# Dependencies first (pinned by constraints.txt), so that a code change reuses this layer.
COPY pyproject.toml setup.py constraints.txt README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt
COPY src ./src
COPY schemas ./schemas
# Editable on purpose: the catalogue loader reads schemas/ beside src/.
RUN pip install --no-deps -c constraints.txt -e . \
    && python -m compileall -q src

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    IMPULSE_STREAM_WEB_HOST=0.0.0.0 \
    IMPULSE_STREAM_WEB_PORT=6066
RUN useradd --system --uid 10001 --user-group --create-home \
        --home-dir /var/lib/impulse-stream impulse
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# Faust creates its data directory in the working directory.
WORKDIR /var/lib/impulse-stream
USER 10001:10001
EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=4 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/healthz', timeout=4)"]
# Exec form: SIGTERM reaches the worker, which drains and leaves the group.
CMD ["impulse-stream", "worker"]
