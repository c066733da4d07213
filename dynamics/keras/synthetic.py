"""A synthetic sentiment dataset shaped like Keras's IMDB, generated in code.

No download: reviews are token sequences over a small English-like
vocabulary (common words, sentiment cues, negators, intensifiers, then
pronounceable pseudo-words), so a review can be shown as text. Each review
has a hidden sentiment and says it through a few *cue phrases* (``great``,
``really boring``); some phrases disagree with it (mixed reviews) and some
are negated (``not bad`` reads as positive, ``not good`` as negative), so
word counts alone are not enough and word order matters. Cue phrases sit
among neutral filler words drawn with a Zipf law, as words in real reviews
are. The label is the sign of the phrases' polarities (a tie goes to the
hidden sentiment).

The model of ``imdb_lstm.py`` reads only the last 80 tokens. In a fraction
``hidden_rate`` of the reviews every cue lies before that window -- the
review states its opinion early and rambles on -- so the model cannot read
the label; it can only memorize those training reviews by their filler
words. That is what reproduces the seed's curves: as training goes on the
model grows confident on the unreadable validation reviews, right or wrong
at random, so ``val_loss`` climbs while ``val_accuracy`` holds (see
docs/training.md#the-synthetic-reviews). Extra label noise, if wanted, comes from
:func:`dynamics.keras.datasets.flip_labels`.

Token ids follow ``keras.datasets.imdb``'s convention: 0 is padding, 1 marks
the start of a review, 2 is out-of-vocabulary, words start at 3.

This module imports numpy only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from dynamics.errors import ArgumentError

POSITIVE = (
    "good great excellent wonderful superb brilliant enjoyable moving funny beautiful "
    "charming delightful gripping masterful memorable touching clever fresh stunning "
    "powerful fantastic entertaining impressive hilarious lovely perfect inspired "
    "engaging compelling remarkable"
).split()
NEGATIVE = (
    "bad awful boring terrible dull weak poor horrible stupid predictable pointless "
    "mediocre tedious lame clumsy annoying bland forgettable painful silly messy flat "
    "dreadful unfunny shallow awkward hollow cheap lifeless disappointing"
).split()
NEGATORS = "not never hardly barely".split()
INTENSIFIERS = "very really quite so truly rather".split()
#: Common words placed first so that they are the most frequent filler.
COMMON = (
    "the a and of to is in it this that was as with for movie film but on you he "
    "are his have be one all at by an they who from like her just about out if "
    "has what some there can more when time even she up my would which only story "
    "see their had we were me well than much get been people also bit will "
    "other do into first because how him most made its then way make them could "
    "too any after characters character think watch two films seen many life plot "
    "acting being little where over off did does ever end man scene here "
    "scenes show through why something still years back actors director"
).split()
_SPECIALS = ["<pad>", "<start>", "<oov>"]
_ONSETS = "b c d f g h j k l m n p r s t v w z br ch cl dr fl gr pl sh st th tr".split()
_VOWELS = "a e i o u ai ea ou".split()


@dataclass(frozen=True)
class SyntheticConfig:
    """How the synthetic reviews are drawn (the defaults are the shipped dataset).

    Attributes
    ----------
    n_train, n_test : int
        Reviews in the training and test sets.
    vocab_size : int
        Distinct token ids, specials included (like ``num_words``).
    min_length, max_length : int
        Review length in words, drawn uniformly; the model sees the last 80.
    mean_cues : float
        Mean number of cue phrases per review (1 + Poisson(mean_cues - 1)).
    hidden_rate : float
        Fraction of reviews whose cue phrases all lie before the last
        ``window`` tokens (the part the model reads).
    window : int
        Tokens the model reads (``maxlen`` of ``pad_sequences``, which keeps
        the end of a long review).
    agreement : float
        Probability that a cue phrase agrees with the review's hidden sentiment.
    negation_rate : float
        Probability that a cue phrase is written as a negated opposite
        (``not bad`` for a positive phrase).
    seed : int
        Seed of the generator; the same config gives the same reviews.
    """

    n_train: int = 6000
    n_test: int = 2500
    vocab_size: int = 5000
    min_length: int = 30
    max_length: int = 110
    mean_cues: float = 8.0
    agreement: float = 0.8
    negation_rate: float = 0.15
    hidden_rate: float = 0.15
    window: int = 80
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_train", "n_test"):
            if getattr(self, name) < 1:
                raise ArgumentError(f"{name} must be >= 1. Received: {name}={getattr(self, name)}")
        minimum = len(_vocabulary_head())
        if self.vocab_size < minimum + 10:
            raise ArgumentError(
                f"vocab_size must be >= {minimum + 10}. Received: vocab_size={self.vocab_size}"
            )
        if not 1 <= self.min_length <= self.max_length:
            raise ArgumentError(
                "need 1 <= min_length <= max_length. "
                f"Received: min_length={self.min_length}, max_length={self.max_length}"
            )
        if self.mean_cues < 1:
            raise ArgumentError(f"mean_cues must be >= 1. Received: mean_cues={self.mean_cues}")
        if self.window < 1:
            raise ArgumentError(f"window must be >= 1. Received: window={self.window}")
        for name in ("agreement", "negation_rate", "hidden_rate"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ArgumentError(f"{name} must be in [0, 1]. Received: {name}={value}")

    def to_dict(self) -> dict:
        return asdict(self)


def _vocabulary_head() -> list[str]:
    return _SPECIALS + COMMON + POSITIVE + NEGATIVE + NEGATORS + INTENSIFIERS


def vocabulary(vocab_size: int) -> list[str]:
    """Words by token id: specials, common words, cues, then pseudo-words.

    >>> vocabulary(300)[:4]
    ['<pad>', '<start>', '<oov>', 'the']
    >>> len(vocabulary(300)), len(set(vocabulary(300)))
    (300, 300)
    """
    words = _vocabulary_head()
    seen = set(words)
    rng = np.random.default_rng(12345)  # fixed: the vocabulary is part of the dataset
    while len(words) < vocab_size:
        n = int(rng.integers(2, 4))
        word = "".join(
            _ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))] for _ in range(n)
        )
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words[:vocab_size]


def decode(ids: np.ndarray, words: list[str]) -> str:
    """Token ids as text (padding dropped, unknown ids shown as ``<oov>``).

    >>> words = vocabulary(300)
    >>> decode(np.array([0, 0, 1, 3, words.index("not"), words.index("good")]), words)
    '<start> the not good'
    """
    out = []
    for i in np.asarray(ids).ravel():
        i = int(i)
        if i == 0:
            continue
        out.append(words[i] if 0 <= i < len(words) else "<oov>")
    return " ".join(out)


def generate(config: SyntheticConfig = SyntheticConfig()) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]:
    """Draw the reviews: ``(x_train, y_train), (x_test, y_test)`` flattened.

    Returns
    -------
    x_train, y_train, x_test, y_test
        Lists of int32 token arrays (each starting with 1) and int labels
        (1 positive, 0 negative), before any label noise.

    Examples
    --------
    >>> x, y, xt, yt = generate(SyntheticConfig(n_train=50, n_test=10, vocab_size=400))
    >>> len(x), y.shape, int(x[0][0]), set(np.unique(y)) <= {0, 1}
    (50, (50,), 1, True)
    """
    rng = np.random.default_rng(config.seed)
    words = vocabulary(config.vocab_size)
    index = {w: i for i, w in enumerate(words)}
    pos = np.array([index[w] for w in POSITIVE])
    neg = np.array([index[w] for w in NEGATIVE])
    negators = np.array([index[w] for w in NEGATORS])
    intens = np.array([index[w] for w in INTENSIFIERS])
    cue_ids = set(pos) | set(neg) | set(negators) | set(intens)
    filler = np.array([i for i in range(len(_SPECIALS), config.vocab_size) if i not in cue_ids])
    # Zipf-like frequencies: the k-th filler word is drawn with weight 1/(k+2).
    weights = 1.0 / (np.arange(len(filler)) + 2.0)
    weights /= weights.sum()

    cumulative = np.cumsum(weights)

    def draw(n: int) -> tuple[list[np.ndarray], np.ndarray]:
        lengths = rng.integers(config.min_length, config.max_length + 1, size=n)
        hidden_cues = rng.random(n) < config.hidden_rate
        # all filler words of the split in one draw (per-review draws are 10x slower)
        pool = filler[np.minimum(np.searchsorted(cumulative, rng.random(int(lengths.sum()))), len(filler) - 1)]
        xs, ys, start = [], np.empty(n, dtype=np.int64), 0
        for r in range(n):
            sentiment = 1 if rng.random() < 0.5 else -1
            phrases, total = [], 0
            for _ in range(1 + int(rng.poisson(config.mean_cues - 1))):
                polarity = sentiment if rng.random() < config.agreement else -sentiment
                total += polarity
                phrase = []
                if rng.random() < config.negation_rate:  # "not bad" for a positive phrase
                    phrase.append(negators[rng.integers(len(negators))])
                    cue_pool = neg if polarity > 0 else pos
                else:
                    cue_pool = pos if polarity > 0 else neg
                if rng.random() < 0.3:
                    phrase.append(intens[rng.integers(len(intens))])
                phrase.append(cue_pool[rng.integers(len(cue_pool))])
                phrases.append(phrase)
            tokens = pool[start : start + int(lengths[r])].tolist()
            start += int(lengths[r])
            if hidden_cues[r]:
                # every cue lies before the model's window: the sentiment was cut off
                missing = config.window + 1 - len(tokens)
                if missing > 0:
                    tokens += pool[rng.integers(len(pool), size=missing)].tolist()
                low, high = 0, len(tokens) - config.window
            else:
                low, high = max(len(tokens) - config.window, 0), len(tokens)
            spots = np.sort(rng.integers(low, high + 1, size=len(phrases)))[::-1]
            for spot, phrase in zip(spots, phrases):  # back to front: positions stay valid
                tokens[spot:spot] = phrase
            xs.append(np.asarray([1, *tokens], dtype=np.int32))
            ys[r] = 1 if (total > 0 or (total == 0 and sentiment > 0)) else 0
        return xs, ys

    x_train, y_train = draw(config.n_train)
    x_test, y_test = draw(config.n_test)
    return x_train, y_train, x_test, y_test
