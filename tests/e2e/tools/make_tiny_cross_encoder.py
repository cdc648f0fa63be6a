"""Write a tiny BERT cross-encoder (random weights, seeded) with a given tokenizer, as an HF folder.

    python make_tiny_cross_encoder.py TOKENIZER_FOLDER OUTPUT_FOLDER

No package ships a cross-encoder, and nothing may be fetched from a hub: this model proves the
rerank plumbing (export, engine, route, ordering by the model's own scores), not ranking quality.
One output logit, so TextRerankPipeline scores with a sigmoid, as for real rerankers such as
BAAI/bge-reranker-base.
"""

import sys

import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification


def main(tokenizer_folder, output):
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    # A wide weight initialisation: with BERT's default (0.02) every document gets nearly the same score,
    # and the order of results would hang on rounding; these weights spread the scores apart.
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=1,
        initializer_range=0.5,
    )
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)


if __name__ == "__main__":
    main(*sys.argv[1:3])
