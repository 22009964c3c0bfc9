"""The report figures over the HTTP intake (real uvicorn): read-only, bound to the key's company."""

from __future__ import annotations

from services import reports
from tests.intake_support import ACME_KEY, BETA_KEY, KEY, bearer
from tests.integration.test_reports import post_in_process
from tests.shop import make_shop, sale


def test_reports_over_http_are_the_command_lines_and_only_for_the_keys_company(sessions, intake):
    # Given a posted sale at ACME's ORCH, a cash count and an issued Z
    with sessions.begin() as s:
        make_shop(s)
        make_shop(s, code="BETA")
    post_in_process(sessions, [sale("S1", [("TEA", "3")], [("CASH", "20.00")])])
    reports.cash_count(sessions, "ORCH", "2025-03-01", "13.50")
    issued = reports.z_report(sessions, "ORCH", "2025-03-01")
    day = {"outlet": "ORCH", "date": "2025-03-01"}

    # When ACME's key reads them, then they are what the use cases give
    x = intake.get("/v1/reports/x", params=day, headers=bearer(ACME_KEY))
    assert x.status_code == 200 and x.json() == reports.x_report(sessions, "ORCH", "2025-03-01")
    z = intake.get("/v1/reports/z", params=day, headers=bearer(ACME_KEY))
    assert z.status_code == 200 and z.json() == issued
    gst = intake.get("/v1/reports/gst", params={"company": "ACME", "period": "2025Q1"}, headers=bearer(KEY))
    assert gst.status_code == 200 and gst.json()["box1"] == "12.39" and gst.json()["box6"] == "1.11"

    # And BETA's key is refused ACME's figures, a missing key is 401, bad values 422, no Z 404
    assert intake.get("/v1/reports/x", params=day, headers=bearer(BETA_KEY)).status_code == 403
    assert (
        intake.get(
            "/v1/reports/gst", params={"company": "ACME", "period": "2025Q1"}, headers=bearer(BETA_KEY)
        ).status_code
        == 403
    )
    assert intake.get("/v1/reports/x", params=day).status_code == 401
    bad = intake.get("/v1/reports/x", params={"outlet": "ORCH", "date": "someday"}, headers=bearer(ACME_KEY))
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "date"
    assert (
        intake.get(
            "/v1/reports/gst", params={"company": "ACME", "from": "2025-03-02", "to": "2025-03-01"}, headers=bearer(KEY)
        ).status_code
        == 422
    )
    assert (
        intake.get("/v1/reports/z", params={"outlet": "ORCH", "date": "2025-03-02"}, headers=bearer(KEY)).status_code
        == 404
    )
