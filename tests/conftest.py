"""Shared fixtures: real SQLite files and a real HTTP server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from registry import create_app
from registry.context import EXTENSION_KEY, Services


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "irontrace.db"


@pytest.fixture
def app(db_path: Path):
    app = create_app({"DB": str(db_path)})
    yield app
    app.extensions[EXTENSION_KEY].storage.close()


@pytest.fixture
def services(app) -> Services:
    return app.extensions[EXTENSION_KEY]


class LiveServer:
    """The app served over real HTTP on a loopback port, in a background thread."""

    def __init__(self, app) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self.http = requests.Session()

    def __enter__(self) -> "LiveServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self.http.close()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.http.post(self.url + path, timeout=30, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.http.patch(self.url + path, timeout=30, **kwargs)


@pytest.fixture
def server(app) -> Iterator[LiveServer]:
    with LiveServer(app) as live:
        yield live


def report_data(ref: str = "KZ-TRK-2025-000001", **overrides) -> dict:
    """A valid report as an agency would submit it; override any top-level field."""
    data = {
        "external_ref": ref,
        "status": "stolen",
        "category": "excavator",
        "manufacturer": "Caterpillar",
        "model": "336D L",
        "year": 2019,
        "color": "yellow",
        "identifiers": [
            {"type": "pin", "value": "CAT0336DLTJF00123", "location": "plate on the left side of the frame"},
            {"type": "engine", "value": "C9-4RT05521"},
        ],
        "description": "Yellow tracked excavator with a hydraulic breaker, cab window cracked.",
        "incident": {"date": "2025-11-20", "country": "KZ", "region": "Turkestan", "place": "Tulkubas impound lot"},
        "value": {"amount": 95000000, "currency": "KZT"},
        "reporting_agency": {"name": "Police Department of Turkestan Region", "country": "KZ",
                             "contact": "+7 7252 00 00 00"},
    }
    data.update(overrides)
    return data
