"""The legacy `/api/v1` REST surface, on the same resolvers as GraphQL."""
