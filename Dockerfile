# The Eye: one image for the web process, the queue consumer and migrations.
# compose.yml picks the command; the default is the web process.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=eye.settings \
    EYE_DATA_DIR=/app/var

WORKDIR /app

RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home eye

# Dependencies are read from pyproject.toml on their own, before the source is copied, so
# that a code change does not reinstall them, at the exact versions of constraints.txt. The
# project itself is not installed: it is not a package ([tool.setuptools] packages = []) and
# runs from /app.
COPY pyproject.toml constraints.txt ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt -c constraints.txt \
    && rm /tmp/requirements.txt

COPY . .
# A throwaway key: settings would otherwise write a generated one into the image.
RUN EYE_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0
# EYE_DATA_DIR must be writable: settings keep a generated secret key there when
# EYE_SECRET_KEY is unset.
RUN mkdir -p /app/var && chown eye:eye /app/var

USER eye
EXPOSE 8000

# A shell so that EYE_WEB_WORKERS is read at start; exec so that gunicorn is PID 1 and gets
# the stop signal itself. /dev/shm keeps the workers' heartbeat files off the overlay disk.
# eye/gunicorn_conf.py names the worker class (safe against slow clients) and the control
# socket, as under make run.
CMD ["sh", "-c", "exec gunicorn eye.wsgi --config python:eye.gunicorn_conf --bind 0.0.0.0:8000 --workers ${EYE_WEB_WORKERS:-2} --threads ${EYE_WEB_THREADS:-4} --keep-alive 5 --worker-tmp-dir /dev/shm"]
