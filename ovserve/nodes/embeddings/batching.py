"""The embeddings engine's queue: texts of concurrent requests, cut into shared batches.

Pure Python (no OpenVINO), so its rules are tested alone: texts are taken in arrival order, across
requests, at most `batch_size` at a time; a request finishes when its last text is embedded, and
its vectors come back in its own order.
"""

import collections

import numpy


class _Request:
    def __init__(self, key, texts):
        self.key = key
        self.texts = texts
        self.vectors = []  # numpy blocks, in text order
        self.taken = 0  # texts embedded or in the batch being embedded

    @property
    def waiting(self):
        return len(self.texts) - self.taken


class TextQueue:
    def __init__(self, batch_size):
        self.batch_size = batch_size
        self.requests = collections.deque()
        self.waiting_texts = 0

    def __len__(self):
        return len(self.requests)

    def add(self, key, texts):
        self.requests.append(_Request(key, list(texts)))
        self.waiting_texts += len(texts)

    def cancel(self, key):
        for request in self.requests:
            if request.key == key:
                self.requests.remove(request)
                self.waiting_texts -= request.waiting
                return

    def take_batch(self):
        """(texts, plan): the next texts to embed together, and whose they are (for `finish`)."""
        room, texts, plan = self.batch_size, [], []
        for request in self.requests:
            count = min(room, request.waiting)
            if count:
                texts += request.texts[request.taken : request.taken + count]
                request.taken += count
                plan.append((request, count))
                room -= count
            if not room:
                break
        self.waiting_texts -= len(texts)
        return texts, plan

    def finish(self, plan, vectors):
        """Hand each request its rows of `vectors`; return [(key, all its vectors)] for finished requests."""
        finished, position = [], 0
        for request, count in plan:
            request.vectors.append(vectors[position : position + count])
            position += count
            if request.taken == len(request.texts) and request in self.requests:
                self.requests.remove(request)
                finished.append((request.key, numpy.concatenate(request.vectors)))
        return finished

    def fail(self, plan):
        """Drop the requests of a batch that failed; return their keys."""
        keys = []
        for request, _ in plan:
            if request in self.requests:
                self.requests.remove(request)
                self.waiting_texts -= request.waiting
                keys.append(request.key)
        return keys
