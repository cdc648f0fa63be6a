"""Servables as graphs of plugin nodes: node contracts, plugin discovery, graph building, registry."""
