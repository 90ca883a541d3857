from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_calendar')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AgentThread',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='agent_threads', on_delete=OnDelete.CASCADE)),
                ('state', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('first_event_id', fields.CharField(null=True, max_length=48)),
                ('last_event_id', fields.CharField(null=True, max_length=48)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_active_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'agent_threads', 'app': 'models', 'indexes': [Index(fields=['owner_id', 'last_active_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AgentMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('thread', fields.ForeignKeyField('models.AgentThread', source_field='thread_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('message_id', fields.CharField(max_length=200)),
                ('role', fields.CharField(max_length=16)),
                ('body', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'agent_messages', 'app': 'models', 'unique_together': (('thread_id', 'message_id'),), 'indexes': [Index(fields=['thread_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AgentRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('thread', fields.ForeignKeyField('models.AgentThread', source_field='thread_id', db_constraint=True, to_field='id', related_name='runs', on_delete=OnDelete.CASCADE)),
                ('run_id', fields.CharField(max_length=200)),
                ('task_id', fields.CharField(unique=True, max_length=64)),
                ('status', fields.CharField(default='queued', max_length=16)),
                ('input', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('worker', fields.CharField(null=True, max_length=80)),
                ('lease_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'agent_runs', 'app': 'models', 'unique_together': (('thread_id', 'run_id'),), 'indexes': [Index(fields=['thread_id', 'status']), Index(fields=['status', 'lease_expires_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
