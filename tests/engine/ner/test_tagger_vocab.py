"""The tag codec (BIO <-> IOBES ids, repair of invalid greedy output) and the growing vocabulary."""

from __future__ import annotations

import numpy as np

from engine.ner.tagger.vocab import PAD, UNK, TagCodec, Vocab, normalise_word
from engine.ner.types import Sentence


def test_iobes_round_trip_on_valid_bio():
    codec = TagCodec(["PER", "LOC"])
    bio = ("B-PER", "I-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-PER")
    ids = codec.encode_bio(bio)
    assert codec.iobes(ids) == ("B-PER", "I-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC", "O", "S-PER")
    assert codec.decode_bio(ids) == bio
    assert ids.dtype == np.int64 and len(codec) == 9 and codec.tags[0] == "O"


def test_orphan_inside_tags_are_read_as_entity_starts():
    codec = TagCodec(["PER", "LOC"])
    # seqeval reads an I- after O (or after another type) as the start of an entity
    assert codec.iobes(codec.encode_bio(("O", "I-PER", "I-PER", "I-LOC"))) == ("O", "B-PER", "E-PER", "S-LOC")


def test_decoding_repairs_sequences_that_break_iobes():
    codec = TagCodec(["PER"])
    index = {tag: i for i, tag in enumerate(codec.tags)}
    broken = [index[t] for t in ("E-PER", "O", "I-PER", "I-PER", "S-PER", "E-PER")]
    assert codec.decode_bio(broken) == ("B-PER", "O", "B-PER", "I-PER", "B-PER", "B-PER")


def test_codec_knows_only_bio_over_its_labels():
    codec = TagCodec(["PER"])
    assert codec.knows("O") and codec.knows("B-PER") and codec.knows("I-PER")
    assert not codec.knows("B-LOC") and not codec.knows("S-PER") and not codec.knows("PER")


def test_vocab_grows_normalises_and_maps_unknowns():
    vocab = Vocab()
    vocab.grow([Sentence(("Paris", "2024", "paris"))])
    assert vocab.words == ["<pad>", "<unk>", "paris", "0000"]
    assert vocab.word_ids(["PARIS", "1999", "Rome"]) == [2, 3, UNK]
    assert normalise_word("Route66") == "route00"
    vocab.grow([Sentence(("Rome",))])
    assert vocab.word_ids(["rome"]) == [4]  # earlier ids never move
    assert vocab.char_ids("Pé", 10) == [vocab.chars.index("P"), UNK]
    assert vocab.char_ids("xyzw", 3) == [UNK, UNK, UNK] and vocab.char_ids("", 3) == [UNK]
    assert PAD == 0
    restored = Vocab.from_dict(vocab.to_dict())
    assert restored.words == vocab.words and restored.chars == vocab.chars
