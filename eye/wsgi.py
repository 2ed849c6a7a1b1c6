import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from eye.chunked_bodies import with_chunked_bodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eye.settings")

application = with_chunked_bodies(get_wsgi_application(), limit=settings.EYE_MAX_BODY_BYTES)
