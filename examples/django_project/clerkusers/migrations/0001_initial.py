from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="LocalUser",
            fields=[
                ("clerk_id", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("email_address", models.CharField(max_length=320, null=True)),
                ("first_name", models.CharField(max_length=256, null=True)),
                ("last_name", models.CharField(max_length=256, null=True)),
                ("updated_at", models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="ProcessedWebhook",
            fields=[
                ("svix_id", models.CharField(max_length=128, primary_key=True, serialize=False)),
            ],
        ),
    ]
