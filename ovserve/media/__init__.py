"""Media that requests carry (images in chat): where their bytes may come from (`sources.py`) and how
they become the pixels an engine takes (`decoding.py`). Pure, no HTTP or OpenVINO types."""
