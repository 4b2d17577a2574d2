"""marshmallow schemas of the v1 API: they validate requests, shape responses and make the OpenAPI document."""
