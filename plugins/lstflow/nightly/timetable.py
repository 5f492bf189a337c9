"""``NightTimetable``: one DAG run per observation night, started the following morning.

The logical date is the night itself (00:00 UTC of the evening's calendar date, lstosa's
``YYYYMMDD``) and the data interval is that calendar day, but the run only starts at
``night + 1 day + run_time`` (07:00 UTC by default, after dawn and the RunSummary). No cron
timetable can do both: a cron data-interval timetable puts the logical date at the run hour
(07:00), so ``airflow backfill create --from-date D1 --to-date D3`` (bounds at midnight) would
leave out night D3. Here the bounds fall on logical dates, so that backfill runs D1, D2 and D3.

Registered as a plugin timetable (``lstflow.ui.plugin``), which the scheduler needs in order to
deserialize it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from pendulum import UTC, DateTime

ONE_DAY = dt.timedelta(days=1)


def night_start(moment: dt.datetime | dt.date) -> DateTime:
    """00:00 UTC of the night containing ``moment`` (its UTC calendar date)."""
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(dt.UTC).date()
    return DateTime(moment.year, moment.month, moment.day, tzinfo=UTC)


class NightTimetable(Timetable):
    """Night D: logical date D 00:00 UTC, interval [D, D+1), run after D+1 at ``run_time``."""

    def __init__(self, run_time: dt.time = dt.time(7, 0)) -> None:
        if run_time.tzinfo is not None:
            raise ValueError(f"NightTimetable run_time {run_time} must be naive (it is UTC)")
        self.run_time = run_time
        self.run_delay = ONE_DAY + dt.timedelta(hours=run_time.hour, minutes=run_time.minute)
        self.description = f"Each night, processed the next morning at {run_time:%H:%M} UTC"

    @property
    def summary(self) -> str:
        return f"nightly, next day {self.run_time:%H:%M} UTC"

    def serialize(self) -> dict[str, Any]:
        return {"run_time": self.run_time.strftime("%H:%M")}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> NightTimetable:
        return cls(dt.time.fromisoformat(data["run_time"]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NightTimetable) and other.run_time == self.run_time

    def __hash__(self) -> int:
        return hash(self.run_time)

    def night_info(self, night: DateTime) -> DagRunInfo:
        """The run of one night (``night`` at 00:00 UTC)."""
        return DagRunInfo(
            run_after=night + self.run_delay,
            data_interval=DataInterval(night, night + ONE_DAY),
        )

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """A manual run given logical date X processes the night of X's UTC date."""
        start = night_start(run_after)
        return DataInterval(start, start + ONE_DAY)

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            night = night_start(last_automated_data_interval.start) + ONE_DAY
        elif restriction.earliest is None:
            return None
        else:
            earliest = restriction.earliest
            night = night_start(earliest)
            if earliest > night:  # a bound inside a day starts at the next whole night
                night += ONE_DAY
        if not restriction.catchup:
            # Without catchup, start from the newest night whose morning run time has passed.
            newest = night_start(DateTime.now(UTC) - self.run_delay)
            night = max(night, newest)
        if restriction.latest is not None and night > restriction.latest:
            return None
        return self.night_info(night)
