"""Web and task-queue integrations: one capture per request or task run, replayed locally.

- ``asgi.CodeTracerMiddleware``: Starlette, FastAPI and plain ASGI apps.
- ``celery.enable_celery(app)``: Celery task runs.
- ``replay_request`` / ``replay_task``: run one capture again in-process, its dependency
  calls answered from the capture (``ct replay-request``, ``ct replay-task``).

The capture file format is described in ``capture``.
"""
