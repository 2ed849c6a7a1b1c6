from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"

    def ready(self) -> None:
        # Connects the receiver that audit-logs login lockouts.
        from events import lockouts  # noqa: F401
