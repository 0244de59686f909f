"""What travels to a job and back: the signed call, the job-side runner, the signed result.

- :mod:`~clustrix.payload.format` — framing, HMAC-SHA256 and atomic writes (stdlib only);
- :mod:`~clustrix.payload.keys` — the key file: create, read, check its permissions;
- :mod:`~clustrix.payload.records` — frozen value types without :mod:`dataclasses` (start-up cost);
- :mod:`~clustrix.payload.result` — the result envelope (value or exception with traceback);
- :mod:`~clustrix.payload.binding` — which job, task and submission a result belongs to;
- :mod:`~clustrix.payload.hints` — import-root hints and the code file a payload carries;
- :mod:`~clustrix.payload.codec` — calls, arrays and results to bytes and back (cloudpickle);
- :mod:`~clustrix.payload.runner` — the job side, run as ``python -m clustrix.runner``;
- :mod:`~clustrix.payload.pickle_refs` — what a payload's pickles need there (client side);
- :mod:`~clustrix.payload.wrapped` — a decorated function's original, loaded by name;
- :mod:`~clustrix.payload.local_code` — which needed modules are the user's own, to ship;
- :mod:`~clustrix.payload.code_archive` — those modules as content-addressed zips, and the
  script that unpacks them on the host;
- :mod:`~clustrix.payload.code_paths` — the job's signed list of shipped-code directories;
- :mod:`~clustrix.payload.compat` — the preflight: can the host's Python load our payloads?

Every job imports this package, so it stays light: this file imports nothing, the runner's success
path loads almost nothing (a test counts), and it may import only :mod:`clustrix.errors`, lazily,
on failure paths. Verification comes before any unpickling, always.
"""
