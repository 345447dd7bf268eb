"""Deploy orchestration: an app file -> images + a Pulumi stack in the user's AWS account.

Table of contents:

=================  ==========================================================================
``deployer``       the composition root: phases of deploy / preview / destroy, wiring
``offline``        ``toolkit plan``: the infra program under Pulumi's mock runtime
``program``        the inline Pulumi program (``infra/__main__.py``, run in-process)
``workspace``      the Automation API: workspaces, stacks, errors -> domain errors
``stack_config``   manifest + images + target -> ``toolkit:*`` stack config
``names``          app + environment + region -> Pulumi project and stack
``state``          what the stack's state (not its outputs) says exists: the registry decision
``state_store``    where Pulumi keeps stack state (its "backend" URL) and the stack passphrase
``target``         AWS or LocalStack: region, endpoint, credentials check
``localstack``     the services an app needs vs. what a LocalStack endpoint offers
``verify``         after a deploy: endpoints answer from the app, call paths initialise
``doctor``         ``toolkit doctor``: CLI, region, credentials, VPC, quotas, each with a fix
``restarts``       ECS services restarted when a secret they read changed
``images``         the image step's interface (build + push -> digests)
``outputs``        stack outputs -> endpoints, log groups, secret ARNs
``progress``       rich display of steps and resource events
``aws_secrets``    Secrets Manager values; ``logs``: CloudWatch Logs tail
``cloud_serve``    ``toolkit serve --cloud``: an ephemeral ``-dev`` stack
``errors``         domain errors and the Pulumi/AWS failure-text map
=================  ==========================================================================

Nothing here is imported by ``import toolkit``; pulumi and boto3 load inside functions.
"""

from __future__ import annotations

__all__: list[str] = []
