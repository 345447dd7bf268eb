"""The platform's ``modal.types``: the records its objects return.

The ones toolkit returns are here (``Dict.info()`` and ``Queue.info()`` give a `DictInfo`/`QueueInfo`,
``Secret.info()`` a `SecretInfo`; Function and FunctionCall members the records of
`toolkit.function_records`); asking for any other refuses with the alternative instead of an
ImportError (`toolkit.unsupported.refusing_module_getattr`).
"""

from toolkit.function_records import (
    FunctionAutoscalerSettings,
    FunctionCurrentStats,
    FunctionInfo,
    FunctionStats,
    InputInfo,
    InputStatus,
    StatsPercentile,
    StatsPercentileDistribution,
)
from toolkit.named_objects import ObjectInfo
from toolkit.secret import SecretInfo
from toolkit.unsupported import refusing_module_getattr

DictInfo = ObjectInfo
QueueInfo = ObjectInfo

__getattr__ = refusing_module_getattr(
    "toolkit.types", "toolkit's objects do not return this platform record",
    "read the object's own attributes (name, ...) or `toolkit app list --json`")

__all__ = ["DictInfo", "FunctionAutoscalerSettings", "FunctionCurrentStats", "FunctionInfo", "FunctionStats",
           "InputInfo", "InputStatus", "QueueInfo", "SecretInfo", "StatsPercentile", "StatsPercentileDistribution"]
