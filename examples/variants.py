"""Variants: the same function with other options, deployed as functions of their own.

``toolkit run examples/variants.py`` calls each variant in a worker pool of its own.
``toolkit plan examples/variants.py`` (or ``deploy``) shows what AWS gets: ``embed_large`` its own
Lambda with 4 GB, ``embed_long`` an ECS task (its timeout is past Lambda's 15 minutes), each with its
own worker state machine; inside AWS, ``.remote`` on a variant calls that deployment.  Variants are
deployed when made at module level, as here (docs/calls.md).
"""

import toolkit

app = toolkit.App("variants")


@app.function(memory=1024)
def embed(text: str) -> int:
    return len(text)


embed_large = embed.with_options(memory=4096)
embed_long = embed.with_options(timeout=1800)


@app.local_entrypoint()
def main(text: str = "hello") -> str:
    return f"embed={embed.remote(text)} large={embed_large.remote(text)} long={embed_long.remote(text)}"
