"""Loading and validating configuration files (server config and servable graphs)."""
