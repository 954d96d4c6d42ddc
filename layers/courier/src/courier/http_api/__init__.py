"""The HTTP API behind CloudFront's `/api/*`: one Powertools resolver, documented by OpenAPI."""
