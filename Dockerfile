# The image for docker-compose.yml: the gateway (the default command), workers and the migrate
# one-shot all run it. The code goes in as `pip install .` installs it, from a wheel built in the
# first stage: no source tree in the image, only manage.py.
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /wheels .

FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin proctoring
WORKDIR /app

# Dependencies first, from pyproject.toml alone (the project's and its `postgres` extra's: the
# PostgreSQL driver), so that a code change does not reinstall them.
COPY pyproject.toml /tmp/
RUN python -c "import tomllib; p = tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt /tmp/pyproject.toml

# collectstatic only needs settings that load: the two required values are stand-ins here, the
# key a random one thrown away after the build (start-up refuses a well-known key).
# Its output (DJANGO_STATIC_ROOT) is for a web server that serves /static/ from a copy; the
# compose stack's gateway serves /static/ itself.
ENV DJANGO_STATIC_ROOT=/app/static \
    PROCTORING_SNAPSHOT_DIR=/data/snapshots
COPY --from=wheel /wheels /tmp/wheels
COPY manage.py ./
RUN pip install --no-deps /tmp/wheels/*.whl \
    && rm -r /tmp/wheels \
    && DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
        PROCTORING_API_URL=http://unused.invalid/ \
        python manage.py collectstatic --noinput -v 0 \
    && mkdir -p /data/snapshots \
    && chown proctoring:proctoring /data/snapshots

USER proctoring
EXPOSE 8000
# Liveness: the gateway answers (it touches neither Redis nor the database; /readyz does). The
# worker and migrate services of docker-compose.yml turn it off: they listen on no port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# rungateway becomes daphne with the WebSocket caps from the settings.
CMD ["python", "manage.py", "rungateway", "--bind", "0.0.0.0", "--port", "8000", "--proxy-headers"]
