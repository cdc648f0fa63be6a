"""OpenAI's wire format: request schemas and parsing, response objects, server-sent events."""
