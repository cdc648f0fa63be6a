"""OpenAI's error object: the one place its shape is written, for HTTP answers and stream error events."""


def openai_error(error):
    """OpenAI's error object for a typed error (an OvserveError)."""
    return {"error": {"message": error.message, "type": error.error_type, "param": error.param, "code": error.code}}
