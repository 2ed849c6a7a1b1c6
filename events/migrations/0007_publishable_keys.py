from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0006_event_key_order"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="kind",
            field=models.CharField(
                choices=[("secret", "Secret"), ("publishable", "Publishable")],
                default="secret",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="apikey",
            name="origins",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="apikey",
            name="public_key",
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
