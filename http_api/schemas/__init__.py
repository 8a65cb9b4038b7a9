"""Request and response bodies of the HTTP API (the OpenAPI document is generated from them)."""
