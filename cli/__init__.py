"""The command line: the studio's edits on local files, no server, Redis or worker needed.

``python -m cli edit PHOTO_OR_FOLDER ... --Smiling 0.3 --out DIR``, ``python -m cli interpolate
A B --out FILE.gif``, ``python -m cli attributes [PHOTO]`` (docs/cli.md). The photo preparation,
request checks, error codes, sampling defaults and paste-back are the web tier's and the worker's
own (`backend.upload`, `backend.validate`, `backend.alignment`, `models`); this package only
reads files, runs them in this process and writes files.

Nothing here imports torch until a model is needed: listing attributes and refusing a bad
command line stay fast.
"""
