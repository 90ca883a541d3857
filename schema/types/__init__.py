"""Strawberry output types. Resolvers return models; these are built from them field by field,
so graphql-core sees plain objects (a Tortoise model is awaitable, which costs a Task per row)."""
