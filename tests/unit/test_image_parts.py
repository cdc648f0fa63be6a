"""Images in the three chat APIs reach the chat path in one shape: an ImagePart named by its place in the
request, and an image part of its message's content, in order among the text."""

from ovserve.protocol.anthropic_requests import parse_count_tokens, parse_messages
from ovserve.protocol.responses_request import parse_responses

IMAGE = [{"type": "image"}]


def test_responses_input_image_parts():
    request = parse_responses(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "Hi"},
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "look"},
                        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "high"},
                    ],
                },
            ],
        }
    )
    chat = request.chat_input
    assert chat.messages[0] == {"role": "user", "content": "Hi"}
    assert chat.messages[1]["content"] == [{"type": "text", "text": "look"}, *IMAGE]
    [image] = chat.images
    assert (image.url, image.param, image.detail) == (
        "data:image/png;base64,AAAA",
        "input[1].content[1].image_url",
        "high",
    )
    stored = request.conversation_items[1]["content"]
    assert stored[1] == {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "high"}


def test_anthropic_image_blocks_with_base64_and_url_sources():
    blocks = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
        {"type": "text", "text": "and"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
    ]
    body = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": blocks}]}
    chat = parse_messages(body).chat_input
    assert chat.messages[-1]["content"] == [*IMAGE, {"type": "text", "text": "and"}, *IMAGE]
    assert [(image.url, image.param) for image in chat.images] == [
        ("data:image/png;base64,AAAA", "messages[0].content[0].source"),
        ("https://example.com/a.png", "messages[0].content[2].source.url"),
    ]
    del body["max_tokens"]
    assert len(parse_count_tokens(body)[1].images) == 2  # count_tokens counts the same prompt


def test_a_message_without_images_keeps_one_text():
    body = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]}
    chat = parse_messages(body).chat_input
    assert chat.messages[-1]["content"] == "a" and chat.images == ()
