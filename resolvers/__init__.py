"""Business rules, one module per domain, called by GraphQL and REST alike."""
