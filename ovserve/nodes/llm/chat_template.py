"""Rendering chat templates the way Hugging Face transformers does, in a sandbox.

Templates come from model files or users and are untrusted: they render in Jinja2's
ImmutableSandboxedEnvironment, so neither a template nor a message can reach Python internals or
mutate the objects it is given.
"""

import json
from datetime import datetime

import jinja2
import jinja2.meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Used when neither the model nor the options provide a template: ChatML, the most common format.
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class TemplateError(Exception):
    """The template is broken, or it refused the conversation (raise_exception)."""


def _raise_exception(message):
    raise TemplateError(message)


def _tojson(value, indent=None, ensure_ascii=False, separators=None, sort_keys=False):
    # HF's tojson does not HTML-escape (Jinja's built-in one does), templates rely on that.
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, separators=separators, sort_keys=sort_keys)


def _strftime_now(format_string):
    return datetime.now().strftime(format_string)


def make_environment():
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.loopcontrols"],
        undefined=jinja2.Undefined,
    )
    environment.filters["tojson"] = _tojson
    environment.globals["raise_exception"] = _raise_exception
    environment.globals["strftime_now"] = _strftime_now
    return environment


class ChatTemplate:
    def __init__(self, source, special_tokens=None):
        self.source = source
        self.special_tokens = dict(special_tokens or {})
        environment = make_environment()
        try:
            self._template = environment.from_string(source)
            self._variables = jinja2.meta.find_undeclared_variables(environment.parse(source))
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"chat template syntax error at line {exc.lineno}: {exc.message}") from None

    def mentions(self, variable):
        """Whether the template reads this variable (e.g. `tools`): if not, tools need another way in."""
        return variable in self._variables

    def render(self, messages, add_generation_prompt=True, **extra):
        variables = dict(self.special_tokens)
        variables.update(extra)
        try:
            return self._template.render(
                messages=list(messages), add_generation_prompt=add_generation_prompt, **variables
            )
        except TemplateError:
            raise
        except jinja2.TemplateError as exc:
            raise TemplateError(f"chat template error: {exc}") from None
        except Exception as exc:  # a template is code from a model file: any failure is the request's
            raise TemplateError(f"chat template failed: {type(exc).__name__}: {exc}") from None
