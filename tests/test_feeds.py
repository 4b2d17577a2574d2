"""Feed imports: a published list pulled over real HTTP from the simulator, on both engines."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
import requests

from integrations.base import SourceUnavailable
from integrations.config import FeedConfig
from integrations.feed import FeedState
from integrations.simulator import create_simulator
from registry.files.reports import CSV_COLUMNS, flatten
from tests.conftest import LiveServer, report_data
from tests.processes import irontrace

FEED = "uz-mvd"
AGENCY = {"name": "Ministry of Internal Affairs of Uzbekistan", "country": "UZ"}


@pytest.fixture
def feed_server() -> Iterator[LiveServer]:
    with LiveServer(create_simulator()) as live:
        yield live


def feed_report(number: int, **overrides) -> dict:
    return report_data(
        f"UZ-2026-{number:05d}", reporting_agency=AGENCY,
        identifiers=[{"type": "pin", "value": f"UZFEED{number:05d}X7"}],
        incident={"country": "UZ", "region": "Tashkent"}, **overrides,
    )


def publish(feed_server: LiveServer, reports: list[dict], file_format: str = "ndjson") -> None:
    if file_format == "ndjson":
        body, content_type = "".join(json.dumps(r) + "\n" for r in reports), "application/x-ndjson"
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(flatten(r) for r in reports)
        body, content_type = out.getvalue(), "text/csv"
    response = feed_server.http.put(f"{feed_server.url}/_control/feeds/{FEED}", data=body.encode(),
                                    headers={"Content-Type": content_type})
    assert response.status_code == 200


def feed_config(feed_server: LiveServer, file_format: str = "ndjson") -> FeedConfig:
    return FeedConfig(FEED, f"{feed_server.url}/feeds/{FEED}", file_format)


def statuses(server: LiveServer) -> dict[str, str]:
    items = server.get(f"/v1/reports?source={FEED}&limit=500").json()["items"]
    return {r["external_ref"]: r["status"] for r in items}


@pytest.mark.parametrize("file_format", ["ndjson", "csv"])
def test_feed_import_follows_changes_and_withdrawals(server, services, feed_server, tmp_path, file_format):
    local = server.post("/v1/reports", json=report_data()).json()  # not from the feed: never withdrawn
    state = FeedState(tmp_path / "feeds.json")
    feed = feed_config(feed_server, file_format)
    publish(feed_server, [feed_report(1), feed_report(2), feed_report(3)], file_format)

    first = services.feeds.pull(feed, state)
    assert (first.created, first.updated, first.withdrawn, first.rejected) == (3, 0, 0, [])
    assert statuses(server) == {"UZ-2026-00001": "stolen", "UZ-2026-00002": "stolen", "UZ-2026-00003": "stolen"}

    again = services.feeds.pull(feed, state)
    assert not again.modified  # the ETag was sent and the simulator answered 304

    publish(feed_server, [feed_report(1), feed_report(2, model="336D2 L"), feed_report(4)], file_format)
    second = services.feeds.pull(feed, state)
    assert (second.created, second.updated, second.unchanged, second.withdrawn) == (1, 1, 1, 1)
    assert statuses(server) == {"UZ-2026-00001": "stolen", "UZ-2026-00002": "stolen",
                                "UZ-2026-00003": "cancelled", "UZ-2026-00004": "stolen"}
    withdrawn_check = server.post("/v1/checks", json={"identifier": "UZFEED00003X7"}).json()
    assert withdrawn_check["verdict"] != "hit"  # near readings of the other feed reports remain possible
    [withdrawn] = [m for m in withdrawn_check["matches"] if m["external_ref"] == "UZ-2026-00003"]
    assert withdrawn["active"] is False and withdrawn["match_type"] == "exact"

    publish(feed_server, [feed_report(1), feed_report(2, model="336D2 L"), feed_report(3), feed_report(4)],
            file_format)
    third = services.feeds.pull(feed, state)
    assert (third.updated, third.withdrawn) == (1, 0)  # back in the feed: restored
    assert statuses(server)["UZ-2026-00003"] == "stolen"
    assert server.get(f"/v1/reports/{local['id']}").json()["status"] == "stolen"
    assert "source" not in server.get(f"/v1/reports/{local['id']}").json()
    pulls = server.get("/v1/audit", params={"principal": f"feed:{FEED}", "action": "reports.import"}).json()["items"]
    assert [(p["details"]["created"], p["details"]["withdrawn"]) for p in pulls] == [(3, 0), (1, 1), (0, 0)]


def test_a_rejected_row_or_an_empty_feed_withdraws_nothing(server, services, feed_server, tmp_path):
    state = FeedState(tmp_path / "feeds.json")
    feed = feed_config(feed_server)
    publish(feed_server, [feed_report(1), feed_report(2)])
    services.feeds.pull(feed, state)
    publish(feed_server, [feed_report(1), feed_report(2, year=1066)])  # a typo in the feed
    result = services.feeds.pull(feed, state)
    assert len(result.rejected) == 1 and result.withdrawn == 0
    publish(feed_server, [])
    assert services.feeds.pull(feed, state).withdrawn == 0
    assert set(statuses(server).values()) == {"stolen"}


def test_a_failing_feed_raises_and_keeps_its_state(services, feed_server, tmp_path):
    state = FeedState(tmp_path / "feeds.json")
    publish(feed_server, [feed_report(1)])
    services.feeds.pull(feed_config(feed_server), state)
    saved = state.get(FEED)
    assert saved.get("etag")
    publish(feed_server, [feed_report(1), feed_report(2)])
    assert feed_server.http.put(f"{feed_server.url}/_control/feeds", json={"mode": "error"}).status_code == 200
    with pytest.raises(SourceUnavailable):
        services.feeds.pull(feed_config(feed_server), state)
    assert state.get(FEED) == saved


def test_feed_pull_command(tmp_path, feed_server):
    publish(feed_server, [feed_report(1), feed_report(2)])
    env = {
        "IRONTRACE_DB": str(tmp_path / "cli.db"),
        "IRONTRACE_FEED_STATE": str(tmp_path / "feeds.json"),
        "IRONTRACE_SOURCES": json.dumps({"feeds": [{"name": FEED, "url": f"{feed_server.url}/feeds/{FEED}"}]}),
    }
    first = irontrace("feed", "pull", env=env)
    assert first.returncode == 0, first.stderr
    assert f"{FEED}: created 2, updated 0, unchanged 0, withdrawn 0, rejected 0" in first.stdout
    second = irontrace("feed", "pull", FEED, env=env)
    assert f"{FEED}: not modified" in second.stdout
    unknown = irontrace("feed", "pull", "nope", env=env)
    assert unknown.returncode != 0 and "no such feed configured: nope" in unknown.stderr
    assert requests.get(f"{feed_server.url}/_control/requests", timeout=5).json()["feeds"] == 2
