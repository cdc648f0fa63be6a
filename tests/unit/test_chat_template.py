"""ovserve.nodes.llm.chat_template: Hugging Face compatible rendering, in a sandbox."""

import json

import pytest

from ovserve.nodes.llm.chat_template import DEFAULT_CHAT_TEMPLATE, ChatTemplate, TemplateError
from tests.unit.conftest import read_fixture

SYSTEM_AND_USER = ({"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi there"})
USER_ONLY = ({"role": "user", "content": "What is 2+2?"},)


def template(name, special_tokens=None):
    return ChatTemplate(read_fixture("chat_templates", name), special_tokens)


# --- the real SmolLM2 template ------------------------------------------------------------------


def test_smollm2_template_fixture_is_the_verbatim_one_line_source():
    source = read_fixture("chat_templates", "smollm2_chatml.jinja")
    assert "\n" not in source  # the newlines are `\n` escapes inside Jinja string literals
    assert source.count("\\n") == 5


def test_smollm2_system_and_user_with_generation_prompt():
    rendered = template("smollm2_chatml.jinja").render(SYSTEM_AND_USER)
    assert rendered == (
        "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
    )


def test_smollm2_user_only_gets_the_default_system_prompt():
    rendered = template("smollm2_chatml.jinja").render(USER_ONLY)
    assert rendered == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_smollm2_without_generation_prompt():
    rendered = template("smollm2_chatml.jinja").render(SYSTEM_AND_USER, add_generation_prompt=False)
    assert rendered == "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"


def test_default_template_is_chatml():
    rendered = ChatTemplate(DEFAULT_CHAT_TEMPLATE).render(USER_ONLY)
    assert rendered == "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"


# --- Hugging Face features --------------------------------------------------------------------------


def test_raise_exception_raises_template_error_with_the_message():
    with pytest.raises(TemplateError) as caught:
        template("raise_exception.jinja").render(SYSTEM_AND_USER)
    assert str(caught.value) == "Conversations must start with a user message, got system"


def test_raise_exception_template_renders_when_the_condition_holds():
    assert template("raise_exception.jinja").render(USER_ONLY) == "What is 2+2?"


def test_tojson_does_not_html_escape_nor_ascii_escape():
    messages = ({"role": "user", "content": "<b>café & 'quotes'</b>"},)
    rendered = template("tojson.jinja").render(messages)
    assert rendered == '[{"role": "user", "content": "<b>café & \'quotes\'</b>"}]'
    assert json.loads(rendered) == list(messages)


def test_tojson_indent():
    rendered = template("tojson_indent.jinja").render(USER_ONLY)
    assert rendered == '{\n  "role": "user",\n  "content": "What is 2+2?"\n}'


def test_bos_and_eos_tokens_are_template_variables():
    rendered = template("special_tokens.jinja", {"bos_token": "<s>", "eos_token": "</s>"}).render(SYSTEM_AND_USER)
    assert rendered == "<s>[system]You are terse.</s>[user]Hi there</s>"


def test_extra_variables_override_special_tokens():
    chat = template("special_tokens.jinja", {"bos_token": "<s>", "eos_token": "</s>"})
    assert chat.render(USER_ONLY, bos_token="[BOS]").startswith("[BOS][user]")


def test_loop_controls_break_and_continue():
    messages = (
        {"role": "system", "content": "skipped"},
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "stops here"},
        {"role": "user", "content": "never"},
    )
    assert template("loop_controls.jinja").render(messages) == "one;two;"


def test_blocks_are_trimmed_like_transformers_does():
    messages = ({"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"})
    assert template("multiline_blocks.jinja").render(messages) == "<user>hi</user>\n<bot>yo</bot>\n"


def test_messages_are_passed_as_given_and_any_iterable_is_accepted():
    chat = ChatTemplate("{% for m in messages %}{{ m.role }}:{{ m['content'] }};{% endfor %}")
    assert chat.render(iter(SYSTEM_AND_USER)) == "system:You are terse.;user:Hi there;"


# --- sandbox and errors -------------------------------------------------------------------------------


def test_reaching_python_internals_is_a_template_error():
    with pytest.raises(TemplateError, match="unsafe"):
        template("unsafe_mro.jinja").render(USER_ONLY)


def test_mutating_messages_is_a_template_error_and_leaves_them_unchanged():
    messages = [{"role": "user", "content": "original"}]
    with pytest.raises(TemplateError, match="unsafe"):
        template("mutate_messages.jinja").render(messages)
    assert messages == [{"role": "user", "content": "original"}]


def test_syntax_error_is_a_template_error_at_construction():
    with pytest.raises(TemplateError) as caught:
        template("syntax_error.jinja")
    assert str(caught.value).startswith("chat template syntax error at line ")
    assert "endfor" in str(caught.value)


@pytest.mark.parametrize(
    "source",
    [
        "{{ messages[5]['content'] }}",  # undefined
        "{{ 1 / 0 }}",  # arbitrary Python exception
        "{{ range(1000000) | list }}",  # sandbox limit
        "{{ messages[0]['content'] + 1 }}",  # TypeError
    ],
)
def test_any_rendering_failure_is_a_template_error(source):
    with pytest.raises(TemplateError):
        ChatTemplate(source).render(USER_ONLY)
