"""The platform's ``modal.types``: the info/stats records its service returns (AppInfo, DictInfo, ...).

toolkit's objects do not return those records; asking for one refuses with the alternative
instead of an ImportError (`toolkit.unsupported.refusing_module_getattr`).
"""

from toolkit.unsupported import refusing_module_getattr

__getattr__ = refusing_module_getattr(
    "toolkit.types", "toolkit's objects do not return the platform's info/stats records",
    "read the object's own attributes (name, ...) or `toolkit app list --json`")

__all__: list[str] = []
