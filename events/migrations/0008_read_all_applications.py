from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0007_publishable_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="can_read_all_applications",
            field=models.BooleanField(default=False),
        ),
    ]
