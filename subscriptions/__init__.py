"""Event streams behind GraphQL subscriptions and SSE (friends/inbox and agent issues)."""
