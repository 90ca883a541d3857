from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from orjson import loads
from tortoise.fields.data import JSON_DUMPS

class Migration(migrations.Migration):
    dependencies = [('models', '0006_user_timezone')]

    initial = False

    # Recurring and all-day schedule items. Existing items repeat not and are not all-day.
    operations = [
        ops.AddField(
            model_name='ScheduleItem',
            name='all_day',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='ScheduleItem',
            name='recurrence',
            field=fields.CharField(null=True, max_length=500),
        ),
        ops.AddField(
            model_name='ScheduleItem',
            name='exdates',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='ScheduleItem',
            name='overrides',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='ScheduleItem',
            name='series_end_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
