"""gunicorn settings, read automatically when gunicorn starts in this directory (the Dockerfile's
``gunicorn -c gunicorn.conf.py``): the package's own, which ``irontrace serve`` uses wherever it runs."""

from registry.gunicorn_config import *  # noqa: F403
