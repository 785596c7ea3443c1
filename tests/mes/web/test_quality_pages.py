"""Quality pages in a real browser: an X̄–R chart with a shifted subgroup marked as a rule-1
violation, a nonconformance dispositioned and closed by the quality role (refused to an operator),
and a lot traced back to its material with the process data recorded while it was made."""

from __future__ import annotations

import random
from datetime import timedelta

import httpx
import pytest

from mes.quality import genealogy, inspections, nonconformances, spc, specs
from mes.web.i18n import Formats
from simulator.brewery import TIMEZONE
from tests.mes.web.live import db


@pytest.fixture(scope="module")
def quality_records(live_plant) -> dict:
    """25 subgroups of 5 fill volumes (σ = 1 ml around 500 ml) in the last 25 minutes, the 22nd
    shifted up by 6 ml; limits from the first 20 frozen; a nonconformance of 5 bottles; a produced
    lot made from a material lot, its line's energy meter bound to the product as a process tag."""
    now = live_plant.sim.now
    rng = random.Random(7)
    with db(live_plant) as conn:
        spec = specs.create_spec(conn, specs.SpecIn(product_id="pils033", line_id="line1", characteristic="Fill volume",
                                                    unit="ml", target=500.0, lsl=490.0, usl=510.0))  # fmt: skip
        times = []
        for i in range(25):
            shift = 6.0 if i == 21 else 0.0
            at = now - timedelta(minutes=25 - i)
            values = [round(rng.gauss(500.0, 1.0) + shift, 3) for _ in range(5)]
            record = inspections.RecordIn(spec_id=spec["id"], line_id="line1", time=at, inspector="test",
                                          measurements=values)
            inspections.record_inspection(conn, record)
            times.append(at)
        chart = spc.create_chart(conn, spc.ChartIn(name="Fill volume line 1", chart_type="xbar_r", spec_id=spec["id"],
                                                   subgroup_size=5))  # fmt: skip
        spc.compute_phase_one(conn, chart["id"], None, times[19] + timedelta(seconds=1))
        spc.freeze(conn, chart["id"], "test")
        nc = nonconformances.create_nonconformance(conn, nonconformances.NonconformanceIn(
            description="Underfilled bottles at the checkweigher", quantity=5, line_id="line1", product_id="pils033",
            reported_by="test", time=now))  # fmt: skip
        specs.create_spec(conn, specs.SpecIn(product_id="pils033", line_id="line1", characteristic="Line energy",
                                             unit="kWh", tag="energy", process_low=0.0, process_high=1e9))  # fmt: skip
        genealogy.create_lot(conn, genealogy.LotIn(code="MALT-2211", kind="material", product="malt", quantity=800,
                                                   unit="kg", supplier="Maltings AG", supplier_lot="S-77"))  # fmt: skip
        genealogy.create_lot(conn, genealogy.LotIn(code="L1-PILS-001", product="pils033", line_id="line1",
                                                   quantity=2400, started_at=now - timedelta(hours=1),
                                                   ended_at=now))  # fmt: skip
        genealogy.consume(conn, "MALT-2211", "L1-PILS-001", 120, by="test")
    return {"chart": chart, "outlier_at": times[21], "nc": nc}


def test_the_shifted_subgroup_is_marked_as_rule_one_on_the_server_drawn_chart(live_plant, sign_in, quality_records,
                                                                             screenshots) -> None:  # fmt: skip
    chart = quality_records["chart"]
    for lang in ("en", "zh_CN"):
        page = sign_in("quality", lang=lang, width=1280, height=900)
        page.goto(f"{live_plant.base_url}/quality?lang={lang}")
        page.click(f"a[href='/quality/spc/{chart['id']}']")
        page.wait_for_selector("svg.spc")
        assert page.locator("svg.spc").count() == 2, "X̄ and R panels"
        xbar = page.locator("svg.spc").first
        assert xbar.locator("circle.spc-point").count() + xbar.locator("g.spc-viol").count() == 25
        marked = [m.get_attribute("data-rules") or "" for m in xbar.locator("g.spc-viol").all()]
        assert any("1" in m.split(",") for m in marked), marked
        rows = page.locator("table.violations tbody tr").all_inner_texts()
        shown = Formats(lang, TIMEZONE).datetime(quality_records["outlier_at"])
        assert any(shown in row and row.split("\t")[2].startswith("1") for row in rows), (shown, rows)
        if lang == "en":
            assert "Frozen limits (Phase II)" in page.locator("main").inner_text()
        else:
            assert "一点超出3σ控制限" in page.locator("table.violations").inner_text()
        page.screenshot(path=str(screenshots / f"spc-{lang}.png"), full_page=True)
        page.close()


def test_quality_dispositions_and_closes_a_nonconformance_an_operator_may_not(live_plant, sign_in, quality_records,
                                                                            screenshots) -> None:  # fmt: skip
    nc = quality_records["nc"]
    url = f"{live_plant.base_url}/quality/nonconformances/{nc['id']}"
    operator = sign_in("operator", lang="en")
    operator.goto(url)
    assert operator.locator("button[data-action=disposition]").count() == 0, "the button is hidden"
    token = operator.locator("form[action='/logout'] input[name=csrf_token]").get_attribute("value")
    refused = operator.request.post(f"{url}/dispositions", form={"csrf_token": token, "decision": "scrap",
                                                                  "quantity": "5"})  # fmt: skip
    assert refused.status == 403, "and the server refuses"
    operator.close()

    page = sign_in("quality", lang="zh_CN")
    page.goto(f"{url}?lang=zh_CN")
    page.select_option("select[name=decision]", "use_as_is")
    page.fill("input[name=quantity]", "3")
    page.fill("input[name=note]", "within customer tolerance")
    page.click("button[data-action=disposition]")
    page.wait_for_selector(".msg")
    assert page.locator("h1 .status").inner_text() == "待处置"
    page.select_option("select[name=decision]", "return_to_supplier")
    page.click("button[data-action=disposition]")  # the rest: 2 (the field offers what remains)
    page.wait_for_selector("button[data-action=close]")
    page.screenshot(path=str(screenshots / "nonconformance-zh_CN.png"), full_page=True)
    page.click("button[data-action=close]")
    page.wait_for_selector("h1 .nc-closed")
    with db(live_plant) as conn:
        saved = nonconformances.get_nonconformance(conn, nc["id"])
        trail = conn.execute("SELECT actor, action FROM audit_log WHERE object = %s ORDER BY id",
                             (f"nonconformance:{nc['id']}",)).fetchall()  # fmt: skip
    assert [(d["disposition"], d["quantity"], d["approved_by"]) for d in saved["dispositions"]] == [
        ("use_as_is", 3.0, "quality"), ("return_to_supplier", 2.0, "quality")]
    assert saved["status"] == "closed" and saved["closed_by"] == "quality"
    assert trail == [("quality", "quality.disposition")] * 3
    page.close()


def test_a_lot_is_traced_back_to_its_material(live_plant, sign_in, quality_records, screenshots) -> None:
    for lang in ("en", "zh_CN"):
        page = sign_in("supervisor", lang=lang)
        page.goto(f"{live_plant.base_url}/quality?lang={lang}")
        page.fill("input[name=code]", "L1-PILS-001")
        page.press("input[name=code]", "Enter")
        page.wait_for_selector("table.genealogy")
        lots = page.locator("table.genealogy tbody tr").all_inner_texts()
        assert [row.split("\t")[1] for row in lots] == ["L1-PILS-001", "MALT-2211"]
        process = page.locator("table.process tbody tr").all_inner_texts()
        assert len(process) == 1 and process[0].startswith("Line energy"), process
        assert int(process[0].split("\t")[-1].replace(",", "")) > 0, "the energy meter's samples while the lot was made"
        page.screenshot(path=str(screenshots / f"lot-{lang}.png"), full_page=True)
        page.close()
    forward = httpx.get(f"{live_plant.base_url}/quality/lots/S-77?direction=forward", timeout=10)
    assert forward.status_code in (303, 401), "reads need a signed-in user"
