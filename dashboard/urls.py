from django.urls import include, path

from dashboard.views import insights
from dashboard.views.breakdown import category_detail, name_detail
from dashboard.views.digest import digest
from dashboard.views.errors import errors
from dashboard.views.explore import explore, export, export_progress
from dashboard.views.funnels import funnels
from dashboard.views.live import live, live_rows
from dashboard.views.manage import (
    alerts,
    applications,
    audit,
    deletions,
    keys,
    lockouts,
    publishable,
    retention,
    schemas,
    tracked_keys,
)
from dashboard.views.overview import overview
from dashboard.views.sessions import session_detail, session_list

app_name = "dashboard"

# The staff-only Admin area, in its own list: its pages answer 403 to viewers, so their
# access tests (tests/dashboard/test_manage_access.py) are not those of the pages above.
manage_urlpatterns = [
    path("applications/", applications.application_list, name="manage_applications"),
    path(
        "applications/<int:application_id>/",
        applications.application_detail,
        name="manage_application",
    ),
    path("applications/<int:application_id>/keys/", keys.key_issue, name="manage_key_issue"),
    path(
        "applications/<int:application_id>/publishable/",
        publishable.publishable_issue,
        name="manage_publishable_issue",
    ),
    path("keys/<int:key_id>/", keys.key_detail, name="manage_key"),
    path("keys/<int:key_id>/rotate/", keys.key_rotate, name="manage_key_rotate"),
    path("keys/<int:key_id>/revoke/", keys.key_revoke, name="manage_key_revoke"),
    path("retention/", retention.retention, name="manage_retention"),
    path("retention/run/", retention.retention_run, name="manage_retention_run"),
    path(
        "retention/<int:rule_id>/remove/",
        retention.retention_remove,
        name="manage_retention_remove",
    ),
    path("deletions/", deletions.deletions, name="manage_deletions"),
    path("deletions/rows/", deletions.deletion_rows, name="manage_deletion_rows"),
    path("schemas/", schemas.schema_list, name="manage_schemas"),
    path("schemas/<int:schema_id>/", schemas.schema_detail, name="manage_schema"),
    path("schemas/<int:schema_id>/remove/", schemas.schema_remove, name="manage_schema_remove"),
    path("tracked-keys/", tracked_keys.tracked_key_list, name="manage_tracked_keys"),
    path(
        "tracked-keys/<int:tracked_key_id>/remove/",
        tracked_keys.tracked_key_untrack,
        name="manage_tracked_key_remove",
    ),
    path("audit/", audit.audit_log, name="manage_audit"),
    path("lockouts/", lockouts.lockouts, name="manage_lockouts"),
    path("lockouts/unlock/", lockouts.lockout_unlock, name="manage_lockout_unlock"),
    path("alerts/", alerts.alert_list, name="manage_alerts"),
    path("alerts/<int:rule_id>/", alerts.alert_detail, name="manage_alert"),
    path("alerts/<int:rule_id>/mute/", alerts.alert_mute, name="manage_alert_mute"),
    path("alerts/<int:rule_id>/remove/", alerts.alert_remove, name="manage_alert_remove"),
]

# One dashboard and the writes of saved insights, whose access (owner, staff, other
# viewers) is tested with them (tests/insights/test_saved.py).
insight_urlpatterns = [
    path("dashboards/new/", insights.dashboard_new, name="dashboard_new"),
    path("dashboards/<int:dashboard_id>/", insights.dashboard_detail, name="dashboard"),
    path("dashboards/<int:dashboard_id>/edit/", insights.dashboard_edit, name="dashboard_edit"),
    path(
        "dashboards/<int:dashboard_id>/delete/", insights.dashboard_remove, name="dashboard_delete"
    ),
    path("insights/save/", insights.insight_save, name="insight_save"),
    path("insights/<int:insight_id>/edit/", insights.insight_edit, name="insight_edit"),
    path("insights/<int:insight_id>/delete/", insights.insight_remove, name="insight_delete"),
]

urlpatterns = [
    path("", overview, name="overview"),
    path("explore/", explore, name="explore"),
    path("explore/export.csv", export, {"fmt": "csv"}, name="export_csv"),
    path("explore/export.ndjson", export, {"fmt": "ndjson"}, name="export_ndjson"),
    path("explore/export/progress/", export_progress, name="export_progress"),
    path("sessions/", session_list, name="sessions"),
    path("sessions/<uuid:session_id>/", session_detail, name="session"),
    path("category/", category_detail, name="category"),
    path("name/", name_detail, name="name"),
    path("live/", live, name="live"),
    path("live/rows/", live_rows, name="live_rows"),
    path("errors/", errors, name="errors"),
    path("digest/", digest, name="digest"),
    path("funnels/", funnels, name="funnels"),
    path("dashboards/", insights.dashboards, name="dashboards"),
    path("", include(insight_urlpatterns)),
    path("manage/", include(manage_urlpatterns)),
]
