"""Look up a served app from another process: run ``toolkit serve examples/lookups.py`` first.

``python examples/clients/lookup_client.py`` finds the app called "lookups" in the serve registry (this
machine, the same TOOLKIT_HOME), imports its source, and runs the calls in local workers; a
call spawned here can be collected by id from any other process.
"""

import toolkit


def main() -> str:
    square = toolkit.Function.from_name("lookups", "square")
    Counter = toolkit.Cls.from_name("lookups", "Counter")
    call = square.spawn(7)
    same_call = toolkit.FunctionCall.from_id(call.object_id)
    app = toolkit.App.lookup("lookups")
    hello_url = toolkit.Function.from_name("lookups", "hello").get_web_url()
    return (f"remote={square.remote(4)} map={list(square.map([1, 2, 3]))} spawned={same_call.get(timeout=60)} "
            f"counter={Counter(start=10).add.remote(5)} app={app.name} url={hello_url}")


if __name__ == "__main__":
    print(main())
