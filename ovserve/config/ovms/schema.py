"""The message types of an OVMS graph.pbtxt, built in Python so `text_format` can read the file.

OVMS reads graph.pbtxt as a MediaPipe CalculatorGraphConfig whose calculator nodes carry their options
as protobuf messages. ovserve has no protoc at build time, so the few messages a serving graph uses
are described here with descriptor_pb2: the graph and node shape (only the fields OVMS's documented
graphs use, so anything else is reported as unknown), and the options of the three calculators
ovserve has nodes for, field for field as OVMS's .proto files define them (numbers included).
"""

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "mediapipe"
_F = descriptor_pb2.FieldDescriptorProto

_SCALARS = {
    "string": _F.TYPE_STRING,
    "bool": _F.TYPE_BOOL,
    "uint64": _F.TYPE_UINT64,
    "uint32": _F.TYPE_UINT32,
    "int32": _F.TYPE_INT32,
    "float": _F.TYPE_FLOAT,
}
_LABELS = {"optional": _F.LABEL_OPTIONAL, "required": _F.LABEL_REQUIRED, "repeated": _F.LABEL_REPEATED}


def _field(message, label, kind, name, number, default=None):
    """Add a field; `kind` is a scalar name, or '.mediapipe.X' for a message and 'enum .mediapipe.X' for an enum."""
    field = message.field.add(name=name, number=number, label=_LABELS[label])
    if kind in _SCALARS:
        field.type = _SCALARS[kind]
    elif kind.startswith("enum "):
        field.type, field.type_name = _F.TYPE_ENUM, kind[len("enum ") :]
    else:
        field.type, field.type_name = _F.TYPE_MESSAGE, kind
    if default is not None:
        field.default_value = default
    return field


def _enum(message, name, *values):
    enum = message.enum_type.add(name=name)
    for number, value in enumerate(values):
        enum.value.add(name=value, number=number)
    return enum


def _graph_messages(file):
    """CalculatorGraphConfig and Node, as far as OVMS's serving graphs use them."""
    # The extendable options holders of `options { [mediapipe.XOptions.ext] { ... } }`. MessageSet wire
    # format lets text_format find an extension by its message's name too ([mediapipe.XOptions]), as
    # OVMS's graphs write the input stream handler's options.
    for holder in ("CalculatorOptions", "MediaPipeOptions"):
        options = file.message_type.add(name=holder)
        options.extension_range.add(start=4, end=536870912)
        options.options.message_set_wire_format = True

    info = file.message_type.add(name="InputStreamInfo")
    _field(info, "optional", "string", "tag_index", 1)
    _field(info, "optional", "bool", "back_edge", 2)

    handler = file.message_type.add(name="InputStreamHandlerConfig")
    _field(handler, "optional", "string", "input_stream_handler", 1)
    _field(handler, "optional", ".mediapipe.MediaPipeOptions", "options", 3)

    sync_set = file.message_type.add(name="SyncSetInputStreamHandlerOptions")
    one_set = sync_set.nested_type.add(name="SyncSet")
    _field(one_set, "repeated", "string", "tag_index", 1)
    _field(sync_set, "repeated", ".mediapipe.SyncSetInputStreamHandlerOptions.SyncSet", "sync_set", 1)
    sync_set.extension.add(
        name="ext",
        number=97975293,
        label=_F.LABEL_OPTIONAL,
        type=_F.TYPE_MESSAGE,
        type_name=".mediapipe.SyncSetInputStreamHandlerOptions",
        extendee=".mediapipe.MediaPipeOptions",
    )

    node = file.message_type.add(name="Node")
    for number, name in enumerate(("name", "calculator"), start=1):
        _field(node, "optional", "string", name, number)
    for number, name in enumerate(("input_stream", "output_stream", "input_side_packet", "output_side_packet"), 3):
        _field(node, "repeated", "string", name, number)
    _field(node, "optional", ".mediapipe.CalculatorOptions", "options", 7)
    _field(node, "repeated", ".google.protobuf.Any", "node_options", 8)
    _field(node, "optional", ".mediapipe.InputStreamHandlerConfig", "input_stream_handler", 11)
    _field(node, "repeated", ".mediapipe.InputStreamInfo", "input_stream_info", 13)

    graph = file.message_type.add(name="CalculatorGraphConfig")
    _field(graph, "repeated", ".mediapipe.Node", "node", 1)
    _field(graph, "repeated", "string", "input_stream", 10)
    _field(graph, "repeated", "string", "output_stream", 15)
    _field(graph, "repeated", "string", "input_side_packet", 16)
    _field(graph, "repeated", "string", "output_side_packet", 17)


def _extends_calculator_options(message, number):
    message.extension.add(
        name="ext",
        number=number,
        label=_F.LABEL_OPTIONAL,
        type=_F.TYPE_MESSAGE,
        type_name=f".mediapipe.{message.name}",
        extendee=".mediapipe.CalculatorOptions",
    )


def _llm_options(file):
    """OVMS src/llm/llm_calculator.proto."""
    llm = file.message_type.add(name="LLMCalculatorOptions")
    _extends_calculator_options(llm, 113473750)
    name = ".mediapipe.LLMCalculatorOptions"

    crush = llm.nested_type.add(name="KVCrushConfig")
    _enum(crush, "AnchorPointMode", "RANDOM", "ZEROS", "ONES", "MEAN", "ALTERNATING")
    _field(crush, "optional", "uint64", "budget", 2)
    _field(crush, "optional", f"enum {name}.KVCrushConfig.AnchorPointMode", "anchor_point_mode", 3)
    _field(crush, "optional", "uint64", "rng_seed", 4)

    eviction = llm.nested_type.add(name="CacheEvictionConfig")
    _enum(eviction, "AggregationMode", "SUM", "NORM_SUM")
    _field(eviction, "optional", f"enum {name}.CacheEvictionConfig.AggregationMode", "aggregation_mode", 1)
    for number, field in enumerate(("start_size", "recent_size", "max_cache_size"), start=2):
        _field(eviction, "optional", "uint64", field, number)
    _field(eviction, "optional", "bool", "apply_rotation", 5)
    _field(eviction, "optional", "uint64", "snapkv_window_size", 6)
    _field(eviction, "optional", f"{name}.KVCrushConfig", "kv_crush_config", 7)

    sparse = llm.nested_type.add(name="SparseAttentionConfig")
    _enum(sparse, "SparseAttentionMode", "TRISHAPE", "XATTENTION")
    _field(sparse, "optional", f"enum {name}.SparseAttentionConfig.SparseAttentionMode", "mode", 1)
    for number, field in enumerate(
        (
            "num_last_dense_tokens_in_prefill",
            "num_retained_start_tokens_in_cache",
            "num_retained_recent_tokens_in_cache",
        ),
        start=2,
    ):
        _field(sparse, "optional", "uint64", field, number)
    _field(sparse, "optional", "float", "xattention_threshold", 5)
    _field(sparse, "optional", "uint64", "xattention_block_size", 6)
    _field(sparse, "optional", "uint64", "xattention_stride", 7)

    _enum(llm, "PipelineType", "LM", "VLM", "LM_CB", "VLM_CB", "AUTO")
    _enum(llm, "ChatTemplateMode", "MINJA", "JINJA")
    fields = [
        ("required", "string", "models_path"),
        ("optional", "uint64", "max_num_batched_tokens"),
        ("optional", "uint64", "cache_size"),
        ("optional", "uint64", "max_num_seqs"),
        ("optional", "bool", "dynamic_split_fuse"),
        ("optional", "string", "device"),
        ("optional", "string", "plugin_config"),
        ("optional", "uint32", "best_of_limit"),
        ("optional", "uint32", "max_tokens_limit"),
        ("optional", "bool", "enable_prefix_caching"),
        ("optional", "string", "draft_models_path"),
        ("optional", "string", "draft_device"),
        ("optional", "uint64", "draft_max_num_batched_tokens"),
        ("optional", "uint64", "draft_cache_size"),
        ("optional", "uint64", "draft_block_size"),
        ("optional", "uint64", "draft_max_num_seqs"),
        ("optional", "bool", "draft_dynamic_split_fuse"),
        ("optional", "bool", "draft_eagle3_mode"),
        ("optional", f"enum {name}.PipelineType", "pipeline_type"),
        ("optional", f"{name}.CacheEvictionConfig", "cache_eviction_config"),
        ("optional", "string", "tool_parser"),
        ("optional", "string", "reasoning_parser"),
        ("optional", "bool", "enable_tool_guided_generation"),
        ("optional", f"{name}.SparseAttentionConfig", "sparse_attention_config"),
        ("optional", "uint64", "cache_interval_multiplier"),
        ("optional", f"enum {name}.ChatTemplateMode", "chat_template_mode"),
        ("optional", "string", "generation_config_path"),
    ]
    for number, (label, kind, field) in enumerate(fields, start=1):
        _field(llm, label, kind, field, number)


def _embeddings_options(file):
    """OVMS src/embeddings/embeddings_calculator_ov.proto (pooling MEAN, truncate and
    max_position_embeddings are from its newer releases)."""
    embeddings = file.message_type.add(name="EmbeddingsCalculatorOVOptions")
    _extends_calculator_options(embeddings, 1134738)
    pooling = _enum(embeddings, "Pooling", "CLS", "LAST", "MEAN")
    pooling.value.add(name="LAST_TOKEN", number=1)  # the older releases' name of LAST
    pooling.options.allow_alias = True
    _field(embeddings, "required", "string", "models_path", 1)
    _field(embeddings, "optional", "bool", "normalize_embeddings", 2)
    _field(embeddings, "optional", "string", "target_device", 3)
    _field(embeddings, "optional", "string", "plugin_config", 4)
    _field(embeddings, "optional", "enum .mediapipe.EmbeddingsCalculatorOVOptions.Pooling", "pooling", 5)
    _field(embeddings, "optional", "bool", "truncate", 6)
    _field(embeddings, "optional", "uint64", "max_position_embeddings", 7)


def _rerank_options(file):
    """OVMS src/rerank/rerank_calculator_ov.proto (max_position_embeddings is from its newer releases)."""
    rerank = file.message_type.add(name="RerankCalculatorOVOptions")
    _extends_calculator_options(rerank, 113473746)
    _field(rerank, "required", "string", "models_path", 1)
    _field(rerank, "optional", "uint64", "max_allowed_chunks", 2)
    _field(rerank, "optional", "uint64", "max_length", 3)
    _field(rerank, "optional", "string", "target_device", 4)
    _field(rerank, "optional", "string", "plugin_config", 5)
    _field(rerank, "optional", "uint64", "max_position_embeddings", 6)


def _build_pool():
    pool = descriptor_pool.DescriptorPool()
    any_file = descriptor_pb2.FileDescriptorProto()
    any_pb2.DESCRIPTOR.CopyToProto(any_file)
    pool.Add(any_file)
    file = descriptor_pb2.FileDescriptorProto(
        name="ovserve/ovms_graph.proto", package=PACKAGE, syntax="proto2", dependency=[any_file.name]
    )
    _graph_messages(file)
    _llm_options(file)
    _embeddings_options(file)
    _rerank_options(file)
    pool.Add(file)
    return pool


POOL = _build_pool()


def message_class(name):
    """The generated class of mediapipe.<name> (e.g. 'CalculatorGraphConfig')."""
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(f"{PACKAGE}.{name}"))
