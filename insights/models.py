"""Saved insights and the dashboards that hold them.

An insight is a page of the dashboard as its URL states it: the kind of page and its query
string. Keeping the query rather than the numbers means an insight is computed afresh when
opened, by the same form and selector as the page it came from, so it never disagrees
with that page.
"""

from django.conf import settings
from django.db import models


class Dashboard(models.Model):
    """A grid of saved insights. Every signed-in user may open one by its link; its owner
    and staff may change or delete it."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="eye_dashboards"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When it was last opened with its own ranges (insights.kept keeps those cards fresh).
    viewed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Insight(models.Model):
    class Kind(models.TextChoices):
        OVERVIEW = "overview", "Overview"
        EXPLORE = "explore", "Explore filter"
        FUNNEL = "funnel", "Funnel"
        BREAKDOWN = "breakdown", "Breakdown"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The page's query string, as in its URL (`range=30d&step1=…`).
    query = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="eye_insights"
    )
    dashboard = models.ForeignKey(
        Dashboard, null=True, blank=True, on_delete=models.CASCADE, related_name="insights"
    )
    # Place on its dashboard's grid, first to last.
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"
