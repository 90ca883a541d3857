from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_recurrence')]

    initial = False

    # Secret iCalendar feed URLs (models/calendar_feeds.py): only the token's hash is stored.
    operations = [
        ops.CreateModel(
            name='CalendarFeed',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='calendar_feeds', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'calendar_feeds', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
