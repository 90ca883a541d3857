"""Config for Tortoise's own CLI (`tortoise makemigrations`), named in pyproject's [tool.tortoise].

It reads DATABASE_URL like the server does; makemigrations only needs the models, so the
embedded SQLite default is fine for it.
"""

from config.settings import Settings
from infra.database import tortoise_config

TORTOISE_ORM = tortoise_config(Settings())
