"""Configuration: defaults first, then ``IRONTRACE_*`` environment variables.

Every setting can be overridden by the environment variable of the same name
prefixed with ``IRONTRACE_`` (``IRONTRACE_DB=/var/lib/irontrace.db``), or by
the ``test_config`` mapping given to ``create_app``.
"""

from __future__ import annotations

import json
import os
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Embedded default: one SQLite file.
    "DB": "./irontrace.db",
    "SQLITE_CACHE_MB": 256,
    # Elasticsearch: setting ES_URL switches storage and search to it.
    "ES_URL": None,
    "ES_API_KEY": None,
    "ES_USERNAME": None,
    "ES_PASSWORD": None,
    "ES_CA_CERTS": None,
    "ES_INDEX_PREFIX": "irontrace",
    "ES_TIMEOUT_SECONDS": 10,
    "ES_REFRESH_INTERVAL": "1s",
    # External registries (integrations.config): a TOML file and/or JSON; neither means none is called.
    "SOURCES_FILE": None,
    "SOURCES": None,
    "FEED_STATE": "./irontrace-feeds.json",
    # HTTP behaviour.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "RATE_LIMIT_PER_MINUTE": 600,  # per API key, per serving process
    "RATE_LIMIT_BURST": 100,
    "CORS_ORIGINS": [],  # JSON list of origins allowed to call the API from a browser; none by default
    "TRUSTED_PROXIES": 0,  # reverse proxies in front whose X-Forwarded-For names the client
    # The web app: sessions of people signed in, and how failed sign-ins slow an account down.
    "SECRET_KEY": None,  # signs session cookies; unset: kept in SECRET_KEY_FILE, made on first start
    "SECRET_KEY_FILE": "./irontrace-secret.key",
    "SESSION_MINUTES": 480,  # a session ends this long after sign-in
    "SECURE_COOKIES": False,  # true behind TLS: session cookies are sent over HTTPS only
    "LOGIN_MAX_FAILURES": 5,  # failed sign-ins in a row before each further one locks the account
    "LOGIN_LOCK_SECONDS": 60,  # the first lock; each further failure doubles it
    "LOGIN_MAX_LOCK_SECONDS": 3600,
    # Argon2id cost of a password hash: OWASP's first recommended configuration (19 MiB, 2 passes, 1 lane).
    "PASSWORD_HASH_MEMORY_KIB": 19456,
    "PASSWORD_HASH_TIME_COST": 2,
    # Bulk checks: upload limits, and how workers run jobs.
    "BULK_MAX_BYTES": 64 * 1024 * 1024,
    "BULK_MAX_ROWS": 1_000_000,
    "BULK_BATCH_SIZE": 500,  # rows checked, and committed with their checkpoint, together
    "BULK_LEASE_SECONDS": 60,  # a job whose worker stops renewing this long is resumed by another
    "BULK_POLL_SECONDS": 1.0,  # how often an idle worker looks for a job
    "BULK_WORKER_THREADS": -1,  # per app process; -1: one on SQLite, none on Elasticsearch
}

ENV_PREFIX = "IRONTRACE_"


def load_settings(test_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Settings from defaults, then the environment, then ``test_config``."""
    settings = dict(DEFAULTS)
    for name, default in DEFAULTS.items():
        raw = os.environ.get(ENV_PREFIX + name)
        if raw is not None:
            settings[name] = _parse(raw, default)
    settings.update(test_config or {})
    return settings


def _parse(raw: str, default: Any) -> Any:
    """Environment values are strings; give them the type of their default."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, (list, dict)):
        return json.loads(raw)
    return raw
