"""Schedules, as users import them (``toolkit.Period``, ``toolkit.Cron``; ``toolkit.schedule.*``).

Defined in `runtime.schedule` (stdlib only) so that the Pulumi program plans EventBridge
Scheduler expressions from the same rules without importing the SDK.
"""

from runtime.schedule import (
    Cron,
    Period,
    Schedule,
    check_schedule,
    schedule_from_dict,
    schedule_lines,
    scheduled_without_arguments,
)

__all__ = ["Cron", "Period", "Schedule", "check_schedule", "schedule_from_dict", "schedule_lines",
           "scheduled_without_arguments"]
