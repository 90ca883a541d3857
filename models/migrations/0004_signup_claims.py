from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint, UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0003_agent')]

    initial = False

    # A pending sign-up lives for the ten minutes of its code. Rows from before claims existed
    # are dropped rather than given made-up slots and expiries: their owners ask again.
    operations = [
        ops.RunSQL("DELETE FROM pending_signups", reverse_sql=""),
        ops.AlterField(
            model_name='PendingSignup',
            name='email_key',
            field=fields.CharField(max_length=254),
        ),
        ops.AddField(
            model_name='PendingSignup',
            name='expires_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='PendingSignup',
            name='slot',
            field=fields.SmallIntField(),
        ),
        ops.AddField(
            model_name='PendingSignup',
            name='username_key',
            field=fields.CharField(max_length=30),
        ),
        # The check first: on SQLite adding it rebuilds the table, which would drop an index
        # made before it.
        ops.AddConstraint(
            model_name='PendingSignup',
            constraint=CheckConstraint(check='slot >= 0 AND slot < 5', name='pending_signup_slot'),
        ),
        ops.AddConstraint(
            model_name='PendingSignup',
            constraint=UniqueConstraint(fields=('email_key', 'slot'), name=None),
        ),
    ]
