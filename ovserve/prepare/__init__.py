"""Model preparation commands: `ovserve export`, `ovserve pull`, `ovserve list`, and the config edits they share.

Nothing here runs in the server; heavy optional libraries (optimum-intel, huggingface_hub) are
imported only by the command that needs them.
"""
