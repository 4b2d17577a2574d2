# IronTrace: gunicorn serving registry:create_app() on port 8000.
# The embedded default keeps its SQLite file in /data (mount a volume there);
# set IRONTRACE_ES_URL to run on Elasticsearch instead.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    IRONTRACE_DB=/data/irontrace.db \
    IRONTRACE_AUDIT_HEADS_FILE=/audit-heads/irontrace-audit-heads.ndjson \
    IRONTRACE_BIND=0.0.0.0:8000

WORKDIR /app
COPY pyproject.toml README.md gunicorn.conf.py ./
COPY registry ./registry
COPY search ./search
COPY integrations ./integrations
RUN pip install --no-cache-dir . \
    && useradd --system --home /app irontrace \
    && mkdir -p /data /audit-heads && chown irontrace /data /audit-heads

USER irontrace
# The audit log's published heads live apart from the database they vouch for.
VOLUME ["/data", "/audit-heads"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
# Logs are JSON lines on stderr, one per request (the access log) and one per event (gunicorn.conf.py).
CMD ["gunicorn", "-c", "gunicorn.conf.py", "registry:create_app()"]
