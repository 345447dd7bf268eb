"""The platform's ``modal.billing``: its workspace billing reports, which toolkit refuses.

AWS bills your account directly; AWS Cost Explorer is the report.
"""

# mypy: disable-error-code="empty-body"
# (refusals keep the platform's signatures; `toolkit.unsupported.not_supported` replaces their bodies)

from __future__ import annotations

import datetime
from typing import Any, NoReturn

from toolkit.unsupported import not_supported, refusing_module_getattr

_WHY = "AWS bills your own account; toolkit keeps no billing records"
_INSTEAD = "use AWS Cost Explorer (or `aws ce get-cost-and-usage`) on the account you deploy to"


@not_supported("toolkit.billing.workspace_billing_report", _WHY, _INSTEAD)
def workspace_billing_report(*, start: datetime.datetime, end: datetime.datetime | None = None,
                             resolution: str = "d", tag_names: list[str] | None = None,
                             client: Any = None) -> NoReturn: ...


__getattr__ = refusing_module_getattr("toolkit.billing", _WHY, _INSTEAD)

__all__ = ["workspace_billing_report"]
