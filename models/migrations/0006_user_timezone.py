from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_agent_run_control')]

    initial = False

    # The user's time zone (an IANA name); existing accounts get UTC, what the agent assumed
    # for them before.
    operations = [
        ops.AddField(
            model_name='User',
            name='timezone',
            field=fields.CharField(default='UTC', db_default='UTC', max_length=64),
        ),
    ]
