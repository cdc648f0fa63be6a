"""Concurrent embedding requests: how the embeddings engine batches them, against the alternatives.

Two sides, each a closed loop of C clients sending N requests of one short sentence in total:

- side "server": POST /v3/embeddings on a running ovserve server (--url). Run it once against a
  servable with the default batch_size and once with `"batch_size": 1` (each request its own
  inference, i.e. no batching) to see what batching buys;
- side "raw": the same sentences on `openvino_genai.TextEmbeddingPipeline` in this process (model
  folder given with --raw): one call per sentence (one inference per request, at best), the same
  from two threads with a pipeline each (the thread-pool design at its best: embed_documents
  releases the GIL), and calls of 32 sentences (what a perfect batcher gets).

Examples (from the repository root):

    .venv/bin/python benchmarks/embeddings_bench.py --url http://127.0.0.1:8300 --model-name minilm -c 16 -n 256
    .venv/bin/python benchmarks/embeddings_bench.py --raw models/all-MiniLM-L6-v2 -n 256
"""

import argparse
import http.client
import json
import random
import threading
import time
from urllib.parse import urlsplit

from metrics import percentile

WORDS = (
    "cat dog house river mountain city music light window garden paper stone cloud market train "
    "coffee winter summer forest ocean bridge engine story teacher doctor"
).split()


def sentences(count, seed=0):
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(12)) + "." for _ in range(count)]


def server_side(url, model, concurrency, texts):
    parts = urlsplit(url)
    queue, lock, latencies, errors = list(texts), threading.Lock(), [], []

    def client():
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        while True:
            with lock:
                if not queue:
                    break
                text = queue.pop()
            started = time.monotonic()
            connection.request(
                "POST",
                "/v3/embeddings",
                json.dumps({"model": model, "input": text}),
                {"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            response.read()
            (latencies if response.status == 200 else errors).append(time.monotonic() - started)
        connection.close()

    def batches():
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        connection.request("GET", f"/v2/models/{model}/stats")
        nodes = json.loads(connection.getresponse().read())["nodes"]
        return next(iter(nodes.values()))["engine"].get("batches", 0)

    time.sleep(1.1)
    before = batches()
    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    time.sleep(1.1)  # engine counters arrive every second
    return {
        "side": "server",
        "concurrency": concurrency,
        "requests": len(texts),
        "errors": len(errors),
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "inferences": batches() - before,
    }


def raw_side(folder, texts):
    import openvino_genai

    config = openvino_genai.TextEmbeddingPipeline.Config()
    config.pooling_type = openvino_genai.TextEmbeddingPipeline.PoolingType.MEAN
    pipeline = openvino_genai.TextEmbeddingPipeline(folder, "CPU", config)
    pipeline.embed_documents(texts[:4])
    started = time.monotonic()
    for text in texts:
        pipeline.embed_documents([text])
    one_by_one = time.monotonic() - started
    started = time.monotonic()
    for start in range(0, len(texts), 32):
        pipeline.embed_documents(texts[start : start + 32])
    batched = time.monotonic() - started
    threaded = _threads_one_per_call(folder, config, texts, threads=2)
    return {
        "side": "raw",
        "requests": len(texts),
        "one_per_call_texts_per_s": round(len(texts) / one_by_one, 1),
        "two_threads_one_per_call_texts_per_s": round(len(texts) / threaded, 1),
        "batches_of_32_texts_per_s": round(len(texts) / batched, 1),
    }


def _threads_one_per_call(folder, config, texts, threads):
    """The thread-pool alternative at its best: `threads` threads, a pipeline each (a pipeline has one
    infer request, so threads can't share one without a lock), one inference per text."""
    import openvino_genai

    pipelines = [openvino_genai.TextEmbeddingPipeline(folder, "CPU", config) for _ in range(threads)]
    for pipeline in pipelines:
        pipeline.embed_documents(texts[:4])
    shares = [texts[index::threads] for index in range(threads)]

    def run(pipeline, share):
        for text in share:
            pipeline.embed_documents([text])

    workers = [threading.Thread(target=run, args=pair) for pair in zip(pipelines, shares)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8300")
    parser.add_argument("--model-name", default="minilm")
    parser.add_argument("--raw", metavar="MODEL_FOLDER", help="also time the pipeline in this process")
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("-n", "--requests", type=int, default=256)
    args = parser.parse_args()
    texts = sentences(args.requests)
    if args.url:
        print(json.dumps(server_side(args.url, args.model_name, args.concurrency, texts)))
    if args.raw:
        print(json.dumps(raw_side(args.raw, texts)))


if __name__ == "__main__":
    main()
