"""Reading OpenVINO Model Server's configuration unchanged: config.json, graph.pbtxt (see docs/coming-from-ovms.md)."""
