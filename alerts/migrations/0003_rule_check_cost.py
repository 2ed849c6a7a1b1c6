from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_funnel_rules_and_dashboard_digests"),
    ]

    operations = [
        migrations.AddField(
            model_name="alertrule",
            name="check_seconds",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="alertrule",
            name="sparkline_kept",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
