"""Every knob of the server, read from the environment and an optional `.env` file.

The names and defaults of the first block are binding (docs/contract.md §1); the rest are ours and
are documented in the README. One `Settings` object is built per process and handed down explicitly,
so tests can run several differently configured apps side by side.
"""

from __future__ import annotations

import secrets
import warnings
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Secrets written in this repository's files (compose file, docs, examples): anyone can read
# them, so production refuses them. Extend it with every placeholder a file of ours shows.
PUBLISHED_SECRETS = frozenset({"change-me-to-a-long-random-string-in-production"})
# Words that mark a value as "fill me in", whatever text surrounds them.
PLACEHOLDER_MARKERS = ("change-me", "changeme", "change_me", "replace-me", "your-secret")


def is_published_secret(secret: str) -> bool:
    folded = secret.strip().lower()
    return folded in PUBLISHED_SECRETS or any(marker in folded for marker in PLACEHOLDER_MARKERS)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # --- docs/contract.md §1 ---
    database_url: str = "sqlite://data/runtime.db"
    redis_url: str | None = None
    smtp_url: str | None = None
    mail_from: str = "no-reply@localhost"
    jwt_secret: SecretStr | None = None
    access_token_ttl: int = Field(default=3600, ge=60)
    env: Literal["development", "production", "test"] = "development"
    agent_model: str = "offline"
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # --- database ---
    # Tortoise's asyncpg pool defaults to 5 connections, too few for a server process.
    database_pool_min: int = Field(default=1, ge=1)
    database_pool_max: int = Field(default=20, ge=1)

    # How long a session confirmed live is trusted without asking the database again (revocations
    # reach every process at once through the event bus; this bounds a lost notification).
    session_check_ttl_s: float = Field(default=2.0, ge=0, le=60)

    # --- redis ---
    # Every key the server writes starts with this, so one Redis can host several deployments.
    redis_prefix: str = "rt:"

    # --- agent event streams (infra/event_streams/) ---
    # Per thread; trimming is approximate on Redis (whole macro nodes), exact in memory.
    agent_stream_max_len: int = Field(default=10_000, ge=1)
    agent_stream_max_age_s: float = Field(default=7 * 24 * 3600, gt=0)

    # --- agent runs (agent_runtime/) ---
    # None: run agent jobs inside `serve` when embedded (no Redis), leave them to `runtime-api
    # worker` processes otherwise. True forces an in-process worker next to the API.
    agent_worker_in_server: bool | None = None
    agent_worker_concurrency: int = Field(default=16, ge=1)  # runs one worker executes at once
    # A running run's worker renews its lease every third of this; a run whose lease lapsed (its
    # worker died) ends with RUN_ERROR within about lease + reaper interval.
    agent_run_lease_s: float = Field(default=15.0, gt=0)
    agent_reaper_interval_s: float = Field(default=5.0, gt=0)
    agent_max_model_turns: int = Field(default=8, ge=1)  # model calls per run (tool loops)
    # A pause before each piece of the model's answer: makes runs slow enough to watch (demos)
    # or to interrupt (tests of resuming and of worker failure). 0 in production.
    agent_model_chunk_delay_s: float = Field(default=0.0, ge=0, le=10)
    agent_sse_keepalive_s: float = Field(default=15.0, gt=0)
    # Inline image and document data of one content part of a user message, in decoded bytes
    # (resolvers/agent_parts.py); over it: 422. Requests are also bounded by MAX_BODY_BYTES.
    agent_max_attachment_bytes: int = Field(default=768 * 1024, ge=0)
    # Whether the OpenAI-compatible model is sent image / document parts; 0 or false turns
    # them into a note saying the user attached something (for text-only endpoints).
    agent_model_images: bool = True
    # Event text an SSE client may leave unread (bytes, beyond what the socket buffers); past it
    # the response ends and the client resumes with Last-Event-ID, losing nothing.
    agent_sse_max_queued_bytes: int = Field(default=1 << 20, ge=1)

    # --- GraphQL ---
    graphiql: bool | None = None  # None: on in development, off in production
    graphql_introspection: bool | None = None  # None: on in development, off in production
    graphql_max_depth: int = 12
    graphql_max_tokens: int = 2000
    graphql_max_aliases: int = 30
    graphql_max_batch: int = 10
    # schema/fast_execution.py completes plain object trees in one pass; false: graphql-core's
    # own field-by-field completion (the same answers, slower), should a graphql-core upgrade
    # ever break the internals it relies on.
    graphql_fast_execution: bool = True

    # --- passwords (Argon2id) ---
    argon2_time_cost: int = 2
    argon2_memory_cost_kib: int = 19456  # OWASP's Argon2id minimum: m=19 MiB, t=2, p=1
    argon2_parallelism: int = 1

    # --- auth rules ---
    verification_code_ttl_s: int = 600
    verification_code_max_attempts: int = 5
    refresh_reuse_grace_s: float = 10.0

    # --- rate limits (the `limits` library's notation: "N/period" or "N per M minutes") ---
    rate_limit_signup_ip: str = "20/hour"
    rate_limit_code_interval: str = "1/minute"  # codes issued per email and type
    rate_limit_code_email_hourly: str = "6/hour"
    rate_limit_code_ip_hourly: str = "30/hour"
    rate_limit_verify_email: str = "15/hour"
    rate_limit_verify_ip: str = "60/hour"
    rate_limit_login_email: str = "10 per 15 minutes"
    rate_limit_login_ip: str = "50 per 15 minutes"
    # Exact-email user searches per user: each tells whether an address has an account.
    rate_limit_email_lookup_user: str = "20/hour"
    # Fetches of one secret calendar feed URL (apps poll every few minutes to hours).
    rate_limit_calendar_feed: str = "60/hour"

    # --- abuse limits ---
    # Request bodies (REST and GraphQL over HTTP) above this many bytes: 413 (server/body_limit.py).
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    # Agent SSE streams + GraphQL subscriptions one user may hold open at once, across every
    # server process (infra/stream_caps.py); over it: 429 / RATE_LIMITED.
    max_streams_per_user: int = Field(default=20, ge=1)
    # GraphQL websockets one user may hold open at once, across processes (close 4429).
    max_ws_connections_per_user: int = Field(default=10, ge=1)
    # The lease of a slot of those two caps on Redis: a process that dies holds its slots at most
    # this long (its live slots are renewed every third of it).
    stream_lease_s: float = Field(default=30.0, ge=1, le=3600)
    # Seconds a GraphQL websocket may stay open before its `connection_init` (close 4408).
    ws_connection_init_timeout_s: float = Field(default=10.0, gt=0)
    # Text a grouped GraphQL subscription may have queued for a client that does not read
    # (bytes); beyond it the socket is closed 1013 and the client resumes with `after`.
    ws_max_queued_bytes: int = Field(default=1 << 20, ge=1)

    # --- faults --- (docs/operations.md)
    # Every wait on PostgreSQL is bounded, so an unreachable database answers 503, never hangs.
    database_connect_timeout_s: float = Field(default=1.5, gt=0)  # one connection attempt
    database_acquire_timeout_s: float = Field(default=1.5, gt=0)  # a pooled connection
    database_command_timeout_s: float = Field(default=5.0, gt=0)  # one statement
    # Request-path Redis commands: connect timeout, and quick retries (a restarted Redis).
    redis_timeout_s: float = Field(default=1.0, gt=0)
    redis_retries: int = Field(default=2, ge=0)
    # After a failure, rate limits use a per-process limiter for this long before trying again.
    redis_fallback_s: float = Field(default=5.0, gt=0)
    # How long an agent event append waits for Redis to come back before the run fails.
    agent_stream_append_retry_s: float = Field(default=15.0, ge=0)

    # --- metrics (observability/, docs/operations.md) ---
    # Off unless one is set: `/metrics` is then 404 on the app. METRICS_PORT: a listener of its
    # own in `serve` (all its workers) or `worker`; METRICS_TOKEN: `/metrics` on the app behind
    # `Authorization: Bearer <token>` (and on the listener too, when both are set).
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_token: SecretStr | None = None

    # --- misc ---
    log_level: str = "INFO"
    # `text` (one human line a record) or `json` (one JSON object a line): observability/logs.py
    log_format: Literal["text", "json"] = "text"
    data_dir: str = "data"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator(
        "openai_base_url",
        "openai_api_key",
        "redis_url",
        "smtp_url",
        "metrics_port",
        "metrics_token",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `VAR=` in a compose file or .env means "not set", not "the empty URL".
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_agent_model(self) -> Settings:
        model = self.agent_model.strip()
        if model != "offline" and not (model.startswith("openai:") and len(model) > 7):
            raise ValueError("AGENT_MODEL must be 'offline' or 'openai:<model>'")
        return self

    @model_validator(mode="after")
    def _require_secret_in_production(self) -> Settings:
        if self.env == "production":
            if self.jwt_secret is None:
                raise ValueError("JWT_SECRET is required when ENV=production")
            if len(self.jwt_secret.get_secret_value().encode()) < 32:
                raise ValueError("JWT_SECRET must be at least 32 bytes (RFC 7518 §3.2)")
            if is_published_secret(self.jwt_secret.get_secret_value()):
                raise ValueError(
                    "JWT_SECRET is a placeholder published with the source code; "
                    "generate one: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
        return self

    @model_validator(mode="after")
    def _check_metrics_token(self) -> Settings:
        token = None if self.metrics_token is None else self.metrics_token.get_secret_value()
        if token is not None and len(token) < 16:
            raise ValueError("METRICS_TOKEN must be at least 16 characters")
        if token is not None and self.is_production and is_published_secret(token):
            raise ValueError("METRICS_TOKEN is a placeholder: generate one")
        return self

    @property
    def metrics_enabled(self) -> bool:
        """`/metrics` is served somewhere: on its own port, or on the app behind a token."""
        return self.metrics_port is not None or self.metrics_token is not None

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def introspection_enabled(self) -> bool:
        if self.graphql_introspection is not None:
            return self.graphql_introspection
        return not self.is_production

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://", "asyncpg://"))

    @property
    def runs_agent_in_server(self) -> bool:
        if self.agent_worker_in_server is not None:
            return self.agent_worker_in_server
        return self.embedded

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: streams, queue and rate limits live in-process."""
        return self.redis_url is None

    def signing_key(self) -> str:
        if self.jwt_secret is None:  # filled in by get_settings() or the test fixtures
            raise RuntimeError("JWT secret not initialised")
        return self.jwt_secret.get_secret_value()


def with_generated_secret(settings: Settings) -> Settings:
    """Fill in a random JWT secret when none is configured (development only, with a warning)."""
    if settings.jwt_secret is not None:
        return settings
    warnings.warn(
        "JWT_SECRET is not set: using a random key; sessions end when the server restarts",
        stacklevel=2,
    )
    return settings.model_copy(update={"jwt_secret": SecretStr(secrets.token_urlsafe(48))})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return with_generated_secret(Settings())
