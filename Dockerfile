FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config config
COPY infra infra
COPY models models
COPY resolvers resolvers
COPY schema schema
COPY rest_compat rest_compat
COPY subscriptions subscriptions
COPY agent_runtime agent_runtime
COPY server server
RUN pip install --no-cache-dir .
ENV ENV=production
EXPOSE 8000
CMD ["sh", "-c", "runtime-api migrate && runtime-api serve --host 0.0.0.0 --port 8000"]
