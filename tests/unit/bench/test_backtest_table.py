"""The backtest lines of `make bench`: both ways, their ratio and the target's verdict."""

from __future__ import annotations

from bench.run import backtest_table


def way(workers: int, seconds: float, minutes: float) -> dict[str, object]:
    return {
        "workers": workers,
        "seconds": seconds,
        "events_per_second": 2 * 119_147 / seconds,
        "cpu_us_per_event": 130.0,
        "cores_busy": 0.93,
        "month_1m_customers_minutes_extrapolated": minutes,
    }


def figures(parallel: bool) -> dict[str, object]:
    serial = way(1, 36.0, 300.0)
    top = way(2, 20.0, 166.7) if parallel else serial
    extra = {"parallel_vs_serial": 1.8} if parallel else {}
    return {"customers": 2000, "events": 119_147, "outputs": 22_301,
            "reports_identical": True, **top, "serial": serial, **extra}  # fmt: skip


def test_the_table_shows_the_parallel_and_the_serial_backtest_and_judges_the_parallel_one():
    lines = backtest_table(figures(parallel=True)).splitlines()
    assert lines[0].endswith("22,301 outputs of the baseline, reports of every run identical: yes")
    assert lines[1].startswith("backtest/month: 2 processes, 20.0 s, 11,915 events/s, 130 CPU")
    assert "0.93 cores busy; 1M-customer month 167 min" in lines[1]
    assert lines[2].startswith("backtest/month-serial: 1 process, 36.0 s, 6,619 events/s")
    assert lines[3] == "backtest/month / backtest/month-serial: 1.80 x"
    assert lines[4] == (
        "1M-customer month, two catalogues (extrapolated linearly): 167 min (target < 30)  MISSED"
    )


def test_with_one_worker_the_table_shows_the_serial_backtest_alone():
    lines = backtest_table(figures(parallel=False)).splitlines()
    assert [line.split(":")[0] for line in lines[1:]] == [
        "backtest/month-serial",
        "1M-customer month, two catalogues (extrapolated linearly)",
    ]
