"""``toolkit serve``: the local web gateway.  One port, every endpoint, the platform's web semantics.

* `server`    -- the composition root: load, bind, serve, reload, stop.
* `appinfo`   -- describes the user's app from a throwaway process (manifest, sources, files).
* `routes`    -- Host -> endpoint, built from the manifest (``ephemeral=True`` labels).
* `gateway`   -- the ASGI app: routing, the shared `runtime.gateway` checks, budget and 303s.
* `workers`   -- worker processes and their pools (``max_inputs``, ``max_containers``, queueing).
* `container` -- the worker process itself: builds the app with `runtime.adapters`, serves it.
* `proxy`     -- HTTP streaming and WebSocket forwarding to a worker.
* `tokens`    -- proxy-auth tokens (``toolkit token``).
* `index`     -- the bare host's endpoint list (HTML and JSON).
* `reload`    -- which file changes trigger a reload; the version each load records for new workers.
* `takeover`  -- a newer serve of the same endpoints takes them (and the port) over.
* `registry`  -- which running serve holds which endpoint labels (a file under TOOLKIT_HOME).
"""
