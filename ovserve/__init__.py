"""ovserve: a pluggable, config-driven model server on OpenVINO with an OpenAI-compatible API."""

__version__ = "0.1.0"
