"""Engine-side error text: OpenVINO's messages without the C++ location of the failed check."""


def without_source_location(message):
    """OpenVINO's check messages start with the C++ file and line of the check: keep what it says."""
    head, _, rest = message.partition("\n")
    return rest.strip() if " failed at " in head and rest.strip() else message


def describe(exc):
    return f"{type(exc).__name__}: {without_source_location(str(exc))}"
