"""The staff-only Admin area: applications and keys, retention, deletions, event schemas
and the audit log. Every action goes through a service in events/, which also writes the
audit entry; the views only parse, call and redirect."""
