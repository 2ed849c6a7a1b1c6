"""gunicorn's settings shared by `make run` (eye/serve.py) and the compose and image
commands, which add the address and the number of workers and threads.

Read by the gunicorn master at start, with the same environment as its workers."""

from eye import settings

# Slow clients (a body at one byte a second, headers at one line a second) must not hold
# the few threads that run the application: this worker reads every request in full
# first, without a thread (eye/web_worker.py says how).
worker_class = "eye.web_worker.BufferingThreadWorker"
# gunicorn's default control socket is one path per user ($HOME/.gunicorn/gunicorn.ctl)
# that every gunicorn of that user would fight over; each Eye keeps its own beside its
# other state.
control_socket = str(settings.DATA_DIR / "gunicorn.ctl")
