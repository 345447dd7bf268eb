"""Call the *deployed* ``lookups`` app (examples/lookups.py) from a plain Python script.

    toolkit deploy examples/lookups.py
    AWS_REGION=eu-west-1 python examples/clients/deployed_lookup_client.py

``TOOLKIT_LOOKUP=deployed`` (set below) skips this machine's loaded apps and serves, so the script
reaches AWS even while ``toolkit serve examples/lookups.py`` runs.  It needs the IAM actions listed
in docs/calls.md (read the call map, use the call table, start the workers, invoke the aliases).
"""

import os

os.environ.setdefault("TOOLKIT_LOOKUP", "deployed")

import toolkit  # noqa: E402

square = toolkit.Function.from_name("lookups", "square")
call = square.spawn(7)  # a Step Functions worker of the deployed app
Counter = toolkit.Cls.from_name("lookups", "Counter")
print(
    f"remote={square.remote(4)} map={list(square.map([1, 2, 3]))} spawned={call.get(timeout=300)} "
    f"counter={Counter(start=10).add.remote(5)} "
    f"url={toolkit.Function.from_name('lookups', 'hello').get_web_url()}"
)
