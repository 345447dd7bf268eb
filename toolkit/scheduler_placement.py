"""The platform's ``modal.scheduler_placement`` path (`toolkit.platform_only`)."""

from toolkit.platform_only import SchedulerPlacement

__all__ = ["SchedulerPlacement"]
