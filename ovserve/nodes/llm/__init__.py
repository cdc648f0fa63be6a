"""The continuous-batching LLM node: worker side (node.py) and engine side (engine.py)."""
