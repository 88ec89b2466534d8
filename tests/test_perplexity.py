"""Chapter 13's text, its bigram counts and its explorable's torch side (the browser side: tests/explorables.py)."""

import collections
import math

import torch
import torch.nn.functional as F

from xentbook import language
from xentbook.explorables.bigram import BigramExplorable, compute


def test_text_is_the_pinned_unicode_names_and_ascii():
    text = language.text_of(language.names())
    assert language.checksum(text) == language.TEXT_SHA256
    assert text.isascii()
    assert language.vocabulary() == "".join(sorted(set(text)))


def test_validation_is_every_tenth_name_and_training_the_rest():
    train, validation = language.split()
    names = language.names()
    assert validation == language.text_of(names[9::10])
    assert len(train) + len(validation) == len(language.text_of(names))
    assert language.decode(language.encode(validation).tolist()) == validation


def test_pair_counts_count_each_next_character_after_each_previous_one():
    train, _ = language.split()
    piece = train[:5000]
    ids = language.stream(piece)
    C = len(language.vocabulary())
    counts = language.pair_counts(ids, C)
    expected = collections.Counter(zip("\n" + piece, piece))
    vocabulary = language.vocabulary()
    for (a, b), n in expected.items():
        assert counts[vocabulary.index(a), vocabulary.index(b)] == n
    assert counts.sum() == len(piece)


def test_explorable_loss_is_the_count_weighted_cross_entropy():
    """The page's way (validation counts times log-probabilities) and torch's way (the stream) agree."""
    train_counts, validation_counts = language.bigram_tables()
    for k, temperature in [(0.1, 1.0), (2.0, 0.5), (1e4, 3.0)]:
        log_probs = F.log_softmax(torch.log(train_counts.double() + k) / temperature, dim=1)
        weighted = -(validation_counts * log_probs).sum() / validation_counts.sum()
        r = compute(dict(k=str(k), temperature=str(temperature)))
        assert r.ok
        torch.testing.assert_close(r.values["loss"], weighted.to(torch.float32))
        torch.testing.assert_close(r.values["perplexity"], torch.exp(weighted).to(torch.float32))
        torch.testing.assert_close(r.values["bits"], (weighted / math.log(2)).to(torch.float32))


def test_k_zero_gives_an_infinite_loss_and_says_how_many_rows_cause_it():
    train_counts, validation_counts = language.bigram_tables()
    unseen = int(validation_counts[train_counts == 0].sum())
    assert unseen > 0
    r = compute(dict(k="0", temperature="1"))
    assert r.ok and math.isinf(r.values["loss"].item())
    assert f"probability 0 to {unseen} validation characters" in r.message


def test_a_huge_k_gives_the_uniform_loss():
    r = compute(dict(k="1e6", temperature="1"))
    assert abs(r.values["loss"].item() - math.log(len(language.vocabulary()))) < 0.01


def test_bad_input_is_refused_with_a_message():
    for inputs in [dict(k="-1", temperature="1"), dict(k="1", temperature="0"), dict(k="x", temperature="1")]:
        r = compute(inputs)
        assert not r.ok and r.message


def test_widget_saves_the_count_tables_the_page_computes_from():
    widget = BigramExplorable()
    train_counts, validation_counts = language.bigram_tables()
    assert widget.vocabulary == language.vocabulary()
    assert widget.train_counts == train_counts.flatten().tolist()
    assert widget.validation_counts == validation_counts.flatten().tolist()
    assert widget.kernel["ok"] and widget.kernel["inputs"] == {"k": "1", "temperature": "1"}
