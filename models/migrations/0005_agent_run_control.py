from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_signup_claims')]

    initial = False

    # Run control: the error code and token usage a run ended with, and the cancel request a
    # worker executing the run acts on. All nullable: existing runs have none of them.
    operations = [
        ops.AddField(
            model_name='AgentRun',
            name='cancel_requested_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='AgentRun',
            name='error',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='AgentRun',
            name='usage',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
    ]
