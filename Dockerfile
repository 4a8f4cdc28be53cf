# The image for docker-compose.yml: gateway, workers and the migrate one-shot all run it.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin proctoring
WORKDIR /app

# Dependencies first, from pyproject.toml alone, so that a code change does not reinstall them.
# psycopg: DATABASE_URL is PostgreSQL in production, and the project's dependencies lack a driver.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt "psycopg[binary]>=3.1,<4" \
    && rm /tmp/requirements.txt

COPY . .
# Editable, as `make` installs it: settings find templates/ and static/ beside the code (BASE_DIR),
# and a plain `pip install .` would install the packages without them.
# collectstatic only needs settings that load: the two required values are placeholders here.
RUN pip install --no-deps -e . \
    && DJANGO_SECRET_KEY=collectstatic-only PROCTORING_API_URL=http://unused.invalid/ \
        python manage.py collectstatic --noinput -v 0 \
    && mkdir -p /data/snapshots \
    && chown proctoring:proctoring /data/snapshots

ENV PROCTORING_SNAPSHOT_DIR=/data/snapshots
USER proctoring
EXPOSE 8000
CMD ["sh", "-c", "exec python -m daphne --bind 0.0.0.0 --port 8000 --proxy-headers --websocket-max-message-size ${DAPHNE_MAX_MESSAGE_BYTES:-2861744} --websocket-max-frame-size ${DAPHNE_MAX_MESSAGE_BYTES:-2861744} proctoring_site.asgi:application"]
