"""The rerank node: worker side (node.py) and engine side (engine.py)."""
