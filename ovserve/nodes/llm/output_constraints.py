"""What a request's output must match, as it crosses to the engine: a small JSON-able spec, built into an
`openvino_genai.StructuredOutputConfig` in the engine process.

The worker decides the constraint (a response_format's JSON schema, or a forced tool call in the tool
parser family's own format: nodes/llm/parsers) without OpenVINO; the engine builds it. A spec is one of
  {"json_schema": schema}          {"regex": pattern}          {"const": text}      {"any_text": true}
  {"concat": [spec, ...]}          {"union": [spec, ...]}      {"qwen_xml_parameters": schema}
  {"tag": {"begin": text, "content": spec, "end": text}}
  {"tags_with_separator": {"tags": [tag, ...], "separator": text, "at_least_one": bool, "stop_after_first": bool}}
  {"triggered_tags": {"triggers": [text, ...], "tags": [tag, ...], "at_least_one": bool, "stop_after_first": bool}}
where a `tag` is the object under "tag". It travels as canonical JSON text (sorted keys), which is also the
key under which the engine caches the compiled grammar.
"""

import json

JSON_OBJECT = {"json_schema": {"type": "object"}}


def spec_text(spec):
    """The wire text of a spec dict (None: free text)."""
    return None if spec is None else json.dumps(spec, sort_keys=True, ensure_ascii=False)


def response_format_spec(structured_output):
    """The spec of a request's SamplingParams.structured_output: ("json_schema", schema text),
    ("json_object", None) or ("regex", pattern)."""
    if not structured_output:
        return None
    kind, value = structured_output
    if kind == "regex":
        return {"regex": value}
    return {"json_schema": json.loads(value)} if kind == "json_schema" else JSON_OBJECT


def build_config(text):
    """The engine's StructuredOutputConfig for a spec's wire text. Raises ValueError (or the engine's own
    error) on a spec it can't build."""
    import openvino_genai

    config_class = openvino_genai.StructuredOutputConfig
    spec = json.loads(text)
    if set(spec) == {"json_schema"}:
        # The plain path, as response_format always took: no structural tag around the schema.
        return config_class(json_schema=json.dumps(spec["json_schema"]))
    if set(spec) == {"regex"}:
        return config_class(regex=spec["regex"])
    return config_class(structural_tags_config=_element(config_class, spec))


def _tag(config_class, tag):
    return config_class.Tag(tag["begin"], _element(config_class, tag["content"]), tag["end"])


def _element(config_class, spec):
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ValueError(f"a structured output spec has exactly one key, not {spec!r}")
    (kind, value), c = next(iter(spec.items())), config_class
    if kind == "json_schema":
        return c.JSONSchema(json.dumps(value))
    if kind == "qwen_xml_parameters":
        return c.QwenXMLParametersFormat(json.dumps(value))
    if kind == "regex":
        return c.Regex(value)
    if kind == "const":
        return c.ConstString(value)
    if kind == "any_text":
        return c.AnyText()
    if kind == "concat":
        return c.Concat([_element(c, item) for item in value])
    if kind == "union":
        return c.Union([_element(c, item) for item in value])
    if kind == "tag":
        return _tag(c, value)
    if kind in ("tags_with_separator", "triggered_tags"):
        tags = [_tag(c, tag) for tag in value["tags"]]
        flags = dict(
            at_least_one=value.get("at_least_one", False), stop_after_first=value.get("stop_after_first", False)
        )
        if kind == "tags_with_separator":
            return c.TagsWithSeparator(tags, value["separator"], **flags)
        return c.TriggeredTags(value["triggers"], tags, **flags)
    raise ValueError(f"unknown structured output element {kind!r}")
