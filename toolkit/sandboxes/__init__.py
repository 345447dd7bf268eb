"""The machinery behind `toolkit.Sandbox` when it runs locally: each sandbox is a container.

Modules, in the order a sandbox meets them:

- `engine`: the container engine (podman, else docker) and the ``run`` arguments a spec becomes;
  no engine means a clear error, never an unisolated process.
- `records`: the local registry under ``$TOOLKIT_HOME/sandboxes/<id>/`` (the record, its end,
  saved output, exec markers), so ``from_id``/``from_name``/``list`` work from other processes.
- `supervisor`: a small stdlib-only process per sandbox that starts the container and removes it
  on exit, ``timeout``, ``idle_timeout``, ``terminate`` or the creator's death.
- `streams`: ``StreamReader``/``StreamWriter`` over pipes, and ``StreamType``.
- `process`: ``ContainerProcess``, one ``exec`` (the engine's exec).
- `ports`: ``Probe``, ``Tunnel``/``Tunnels`` (plain data, shared with the AWS side).
- `filesystem`: ``sb.filesystem`` and ``open``/``ls``/``mkdir``/``rm``, each one ``exec`` (local and AWS).
- `options`: the platform's create/exec options toolkit refuses, naming the alternative.

On AWS (inside a deployed function): `aws` (the control plane and the handle, over the agent's
SQS/DynamoDB channel), `aws_launch` (which planned task definition an ``image=``/``gpu=`` runs),
`aws_network` (a sandbox's tunnel security group and public IP).

Not imported by ``import toolkit``: ``toolkit.sandbox`` loads it on first use.
"""
