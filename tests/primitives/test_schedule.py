"""Period and Cron: validation at decoration time, next-run arithmetic, EventBridge expressions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import toolkit
from toolkit.exception import InvalidError
from toolkit.schedule import schedule_from_dict

FRIDAY_13H_UTC = datetime(2026, 12, 4, 13, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("expression", "field"), [
    ("61 * * * *", "minute field '61'"),
    ("* 24 * * *", "hour field '24'"),
    ("* * 0 * *", "day of month field '0'"),
    ("* * * 13 *", "month field '13'"),
    ("* * * * MON-XYZ", "day of week field 'MON-XYZ'"),
    ("*/0 * * * *", "minute field '*/0'"),
    ("5-1 * * * *", "minute field '5-1' runs backwards"),
])
def test_a_bad_cron_expression_names_the_field(expression: str, field: str) -> None:
    with pytest.raises(InvalidError, match=field.replace("*", r"\*")):
        toolkit.Cron(expression)


def test_cron_shape_zone_and_impossible_dates_are_refused() -> None:
    with pytest.raises(InvalidError, match="has 4 fields; it needs 5"):
        toolkit.Cron("* * * *")
    with pytest.raises(InvalidError, match="unknown time zone"):
        toolkit.Cron("* * * * *", timezone="Mars/Olympus")
    with pytest.raises(InvalidError, match="never runs"):
        toolkit.Cron("0 0 30 2 *")


def test_cron_next_run_in_its_time_zone() -> None:
    weekdays_9am_paris = toolkit.Cron("0 9 * * 1-5", timezone="Europe/Paris")
    assert weekdays_9am_paris.next_run(FRIDAY_13H_UTC) == datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)
    assert toolkit.Cron("*/15 * * * *").next_run(FRIDAY_13H_UTC) == FRIDAY_13H_UTC + timedelta(minutes=15)
    assert toolkit.Cron("0 12 * * 7").next_run(FRIDAY_13H_UTC).day == 6  # 7 is Sunday too
    # day of month and day of week both restricted: either matches (cron's rule)
    assert toolkit.Cron("0 0 13 * FRI").next_run(FRIDAY_13H_UTC).date().isoformat() == "2026-12-11"


def test_cron_skips_a_wall_time_that_daylight_saving_removes() -> None:
    # 2026-03-29 02:30 does not exist in Paris (02:00 -> 03:00): that day has no run
    nightly = toolkit.Cron("30 2 * * *", timezone="Europe/Paris")
    run = nightly.next_run(datetime(2026, 3, 28, 12, 0, tzinfo=timezone.utc))
    assert run.astimezone(timezone.utc) == datetime(2026, 3, 30, 0, 30, tzinfo=timezone.utc)


def test_period_validation_and_next_run() -> None:
    with pytest.raises(InvalidError, match="needs an interval above zero"):
        toolkit.Period()
    with pytest.raises(InvalidError, match=r"Period\(hours=-1\)"):
        toolkit.Period(hours=-1)
    with pytest.raises(InvalidError, match="must be whole"):
        toolkit.Period(days=1.5)  # type: ignore[arg-type]
    every_90s = toolkit.Period(minutes=1, seconds=30)
    start = FRIDAY_13H_UTC
    assert every_90s.next_run(start, start) == start + timedelta(seconds=90)
    assert every_90s.next_run(start + timedelta(seconds=100), start) == start + timedelta(seconds=180)
    assert toolkit.Period(months=1).next_run(datetime(2026, 1, 31, tzinfo=timezone.utc)).day == 28


def test_eventbridge_expressions() -> None:
    assert toolkit.Period(minutes=90).to_aws() == "rate(90 minutes)"
    assert toolkit.Period(hours=2).to_aws() == "rate(2 hours)"
    assert toolkit.Period(days=1).to_aws() == "rate(1 day)"
    assert toolkit.Cron("0 9 * * 1-5").to_aws() == "cron(0 9 ? * MON,TUE,WED,THU,FRI *)"
    assert toolkit.Cron("*/15 * * * *").to_aws() == "cron(0,15,30,45 * * * ? *)"
    assert toolkit.Cron("0 0 1 jan,JUL *").to_aws() == "cron(0 0 1 1,7 ? *)"
    with pytest.raises(InvalidError, match="whole minutes of at least 1"):
        toolkit.Period(seconds=30).to_aws()
    with pytest.raises(InvalidError, match="no calendar-month rate"):
        toolkit.Period(months=1).to_aws()
    with pytest.raises(InvalidError, match="one of them only"):
        toolkit.Cron("0 0 13 * FRI").to_aws()


def test_schedules_round_trip_through_plain_data() -> None:
    for schedule in (toolkit.Period(hours=1, seconds=2.5), toolkit.Cron("0 9 * * 1-5", timezone="Asia/Tokyo")):
        assert schedule_from_dict(schedule.to_dict()) == schedule


def test_app_function_records_and_validates_its_schedule() -> None:
    app = toolkit.App("sched")

    @app.function(schedule=toolkit.Period(minutes=5))
    def tick(verbose: bool = False) -> None: ...

    assert tick.spec.schedule == toolkit.Period(minutes=5)
    with pytest.raises(InvalidError, match="must be toolkit.Period"):
        app.function(schedule="@hourly")
    with pytest.raises(InvalidError, match="requires 'day'"):
        @app.function(schedule=toolkit.Cron("0 0 * * *"))
        def report(day: str) -> None: ...


def test_deploy_prints_each_schedule_and_its_next_run() -> None:
    from toolkit.manifest import build
    from toolkit.schedule import schedule_lines

    app = toolkit.App("printed")

    @app.function(schedule=toolkit.Period(hours=6))
    def refresh() -> None: ...

    @app.function(schedule=toolkit.Cron("0 9 * * 1-5", timezone="Europe/Paris"))
    def report() -> None: ...

    @app.function()
    def plain() -> None: ...

    lines = schedule_lines(build(app).functions, FRIDAY_13H_UTC)
    assert lines == ["refresh: Period(hours=6), next run 2026-12-04T19:00:00+00:00",
                     "report: Cron('0 9 * * 1-5', timezone='Europe/Paris'), next run 2026-12-07T09:00:00+01:00"]
