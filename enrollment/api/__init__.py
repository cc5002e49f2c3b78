"""REST API of people, consent, enrollment photos and review (/api/v1/), one module per resource.

Thin views: parse with a nested input serializer, call one service or selector, shape
the answer with a nested output serializer. Errors become the one JSON error shape in
core.api.exception_handler. Photo bytes and file URLs are never in a payload.
"""
