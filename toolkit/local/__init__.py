"""The embedded default: functions run in local worker processes that stand in for containers."""
