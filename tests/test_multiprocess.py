"""Several gunicorn workers on one SQLite file, and a crash in the middle of work."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import report_data
from tests.processes import Gunicorn

WRITERS = 6
REPORTS_PER_WRITER = 15


def test_concurrent_writes_from_several_workers_are_all_kept(tmp_path):
    with Gunicorn({"IRONTRACE_DB": str(tmp_path / "shared.db")}, workers=3) as server:

        def write(writer: int) -> list[int]:
            statuses = []
            with requests.Session() as http:
                http.headers.update(server.http.headers)
                for n in range(REPORTS_PER_WRITER):
                    data = report_data(
                        f"W{writer}-{n}", identifiers=[{"type": "serial", "value": f"SN{writer:02d}{n:04d}X"}]
                    )
                    statuses.append(http.post(server.url + "/v1/reports", json=data, timeout=30).status_code)
            return statuses

        with ThreadPoolExecutor(WRITERS) as pool:
            statuses = [s for batch in pool.map(write, range(WRITERS)) for s in batch]
        assert statuses == [201] * (WRITERS * REPORTS_PER_WRITER)

        listed = server.http.get(server.url + "/v1/reports?limit=500", timeout=30).json()["items"]
        assert len(listed) == WRITERS * REPORTS_PER_WRITER
        verdict = server.http.post(server.url + "/v1/checks", json={"identifier": "sn03-0007x"}, timeout=30).json()
        assert verdict["verdict"] == "hit"


def test_concurrent_updates_of_one_version_let_exactly_one_win(tmp_path):
    with Gunicorn({"IRONTRACE_DB": str(tmp_path / "race.db")}, workers=3) as server:
        created = server.http.post(server.url + "/v1/reports", json=report_data(), timeout=30)
        location = server.url + created.headers["Location"]

        def update(color: str) -> int:
            answer = server.http.patch(location, json={"color": color}, headers={"If-Match": '"1"'}, timeout=30)
            return answer.status_code

        colors = [f"color{n}" for n in range(12)]
        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(update, colors))
        assert sorted(statuses) == [200] + [412] * (len(colors) - 1)
        final = server.http.get(location, timeout=30).json()
        assert final["version"] == 2 and final["color"] in colors


def test_committed_reports_survive_a_killed_server(tmp_path):
    env = {"IRONTRACE_DB": str(tmp_path / "crash.db")}
    server = Gunicorn(env, workers=2).start()
    ids = []
    for n in range(20):
        data = report_data(f"C{n}", identifiers=[{"type": "serial", "value": f"CRASH{n:05d}"}])
        ids.append(server.http.post(server.url + "/v1/reports", json=data, timeout=30).json()["id"])
    server.kill()

    with Gunicorn(env, workers=1) as restarted:
        for report_id in ids:
            assert restarted.http.get(f"{restarted.url}/v1/reports/{report_id}", timeout=30).status_code == 200
        check = restarted.http.post(restarted.url + "/v1/checks", json={"identifier": "CRASH00019"}, timeout=30).json()
        assert check["verdict"] == "hit"
