"""The stored responses of the Responses API: GET and DELETE /v3/responses/{id}, and
GET /v3/responses/{id}/input_items (a page of the conversation items before the response's output).
POST /v3/responses is an ApiResource (the request pipeline answers it)."""

from ovserve.errors import InvalidRequest, NotFound

DEFAULT_LIMIT, MAX_LIMIT = 20, 100  # as OpenAI pages input items


def _stored(store, response_id):
    stored = store.get(response_id)
    if stored is None:
        raise NotFound(
            f"Response with id '{response_id}' not found: it was never stored (store: false), was deleted, or expired.",
            param="response_id",
            code="response_not_found",
        )
    return stored


class StoredResponseResource:
    def __init__(self, store):
        self.store = store

    def on_get(self, req, resp, response_id):
        resp.media = _stored(self.store, response_id).response

    def on_delete(self, req, resp, response_id):
        if not self.store.delete(response_id):
            _stored(self.store, response_id)  # raises the 404
        resp.media = {"id": response_id, "object": "response", "deleted": True}


def _limit(req):
    text = req.get_param("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidRequest(
            f"'limit' must be an integer from 1 to {MAX_LIMIT}, got {text[:50]!r}.", param="limit", code="invalid_value"
        )
    return int(text)


def _order(req):
    order = req.get_param("order") or "desc"
    if order not in ("asc", "desc"):
        raise InvalidRequest(
            f"'order' must be 'asc' or 'desc', got {order[:50]!r}.", param="order", code="invalid_value"
        )
    return order


class InputItemsResource:
    def __init__(self, store):
        self.store = store

    def on_get(self, req, resp, response_id):
        limit, order, after = _limit(req), _order(req), req.get_param("after")
        items = list(_stored(self.store, response_id).input_items)
        if order == "desc":
            items.reverse()
        if after is not None:
            ids = [item.get("id") for item in items]
            if after not in ids:
                raise InvalidRequest(
                    f"'after' names no input item of response '{response_id}'.", param="after", code="invalid_value"
                )
            items = items[ids.index(after) + 1 :]
        page = items[:limit]
        resp.media = {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
