"""Grammatical error detection in short English sentences, for writing-support apps.

6 classes, :data:`LABELS`: ``"ok"`` and the five error types of :data:`ERROR_TYPES`
(``agreement``, ``article``, ``tense``, ``preposition``, ``plural``; the class id is the
index). Every source sentence gives its clean version (``ok``) and, when one of the error
rules applies, one corrupted version, so about half the records are ``ok``. Nothing is
downloaded: the sentences come from the Debian package ``wordnet-base`` and from a seeded
generator of simple sentences in the register children write; the errors are made by seeded
code with the inflection tables of ``lemminflect`` and ``inflect``. The held-out source (BLiMP)
is never read by this module.

Sources
-------
Gloss examples
    The quoted example sentences of the WordNet 3.0 glosses (``data.noun``, ``data.verb``,
    ``data.adj``, ``data.adv`` under :data:`WORDNET_DIR`; the text after ``|``, examples in
    double quotes). Kept when sentence-like: only ASCII letters, digits, spaces and
    ``, . ; : ! ? ' -``; a capital first letter; 4–20 words; ending in ``. ! ?`` (a period
    is added to one that ends in a letter or digit; any other ending drops it).
Verb-frame sentences
    ``sents.vrb`` holds 170 example templates (``They %s the coin``) and ``sentidx.vrb``
    maps 3,421 verb senses (``abandon%2:31:00::``) to template numbers. Each pair is
    instantiated with the verb inflected by lemminflect: ``%sing`` → VBG, ``%ss`` → VBZ,
    ``%s`` → the base form (every template's own subject is plural or follows an auxiliary
    or ``to``, so the base form agrees). In templates that open with ``They %s`` and do not
    refer back to it (no ``their``, ``themselves``), ``They`` is replaced by a subject of
    :data:`SUBJECTS`, picked by a hash of the sense key and template number (seed-free);
    a singular subject takes the VBZ form (``Sam abandons the coin.``), so agreement is
    correct by construction. Multi-word verbs inflect their first word (``gives up``). The
    verb ``be`` and templates with a double quote are skipped.

Simple sentences (:func:`simple_sentences`; the register children write)
    Generated, not read: subject + verb phrase + maybe an object and a place (``The children
    were chased by two geese after lunch.``, ``Mia hasn't eaten the apples.``). Subjects and
    objects are names, pronouns, ``Name and Name`` or a determiner (``the this that these those
    a/an every each one another many several some my your our all the two..ten``), an optional
    adjective and a noun; a subject may take an ``of`` phrase whose number differs (``The
    sisters of Mia are...``). Frames: present, progressive (``is/was + -ing``), perfect
    (``has/have + participle``), past, ``do/does/did + n't``, passive (``was/were +
    participle + by``), some with ``n't``. The words come from :func:`lexicon`, every list by a rule
    over WordNet's own files, most frequent first in its sense-tagged corpus (SemCor counts,
    ``cntlist.rev``): every noun with an irregular plural (137 in WordNet 3.0, at most 300:
    ``man/men``, ``child/children``, ``analysis/analyses``, ``cactus/cacti``...), 600 concrete nouns
    (animals, artifacts, food, objects, people, plants), 300 verbs with their transitivity from
    WordNet's verb frames (irregular pasts and participles: ``sang/sung``, ``ate/eaten``). Names are
    made up (syllables, never ending in ``s``). A share :data:`RARE_SHARE` of the nouns and verbs is
    drawn instead from the WordNet lemmas of ``index.noun`` / ``index.verb`` that occur in its
    sense-tagged corpus, so the model also learns number from unknown-word shapes (``[UNK-s]``).
    Drawn with ``numpy.random.default_rng(0x73696D70)``,
    seed-free (the split of a sentence never depends on the build seed); :data:`SIMPLE_PROFILES`
    sentences per profile, appended after the WordNet ones (their source ids follow). Their
    errors are made by the frame that built them, not by the rules below: agreement (the verb
    or auxiliary of the other number, ``The customers cheers``; or the subject noun of the
    other number, ``The customer cheer``), plural (a number-marked determiner and its noun
    disagree: ``Many person were``, ``this ladies``, ``two bridge``), tense (a participle for a
    past, ``Many drivers sung``; a past for a participle, ``has ate``, ``was took``; a past
    after ``did/doesn't``; the base after ``is``/``has``), article (``a``/``an`` swapped, ``an
    banana``). BLiMP (the held-out source, :mod:`zoo.datasets.sources`) is never read here.

Both sets go through :func:`blocked` (the content filter) and are deduplicated (first
occurrence wins; file order: noun, verb, adj, adv, then the frames). ``info["corpus"]``
counts every stage. The WordNet licence is permissive (use, copy, modify and distribute
for any purpose, without fee) provided the copyright notice ("WordNet 3.0 Copyright 2006
by Princeton University. All rights reserved.") and the licence text appear on all copies:
ship ``/usr/share/doc/wordnet-base/copyright`` with anything built from this data.

Content filter
--------------
WordNet's examples include violence, drugs and adult content. :data:`BLOCKLIST` maps
categories (violence, weapons, death, crime, drugs, alcohol and tobacco, sexual content,
insults and slurs, gambling) to lowercase stems; a sentence is dropped when any of its
lowercased words equals a stem or a stem plus one of the suffixes ``s es d ed ing er ers
y ly``, also with a doubled final consonant (``kidnapped``) or a dropped final ``e``
(``choking``); whole words only: ``gun`` blocks ``guns`` but not ``begun``. ``info["filter"]``
records the blocklist size and how many sentences were dropped, per category (a sentence
can count in several categories); the dropped text is not stored.

Errors (:class:`GenerationParams`; each rule only fires in a context where its result is
clearly ungrammatical; the sets named below are module constants)
------------------------------------------------------------------------------------------
agreement
    ``is/are``, ``was/were``, ``has/have``, ``does/do`` (and their ``n't`` forms) flipped
    after a subject whose number is known (a nominative pronoun, ``this/these...``, or a
    noun whose number lemminflect knows); ``was/were`` never in a sentence with ``if``,
    ``wish``, ``though``, ``unless`` (the subjunctive keeps them grammatical). A lexical
    verb right after ``he/she`` (or a sentence-initial ``It``) goes from VBZ to the base
    form, after ``I/we/they`` (or initial ``You``) from the base form to VBZ; after
    determiner + noun, only when the verb cannot be read as a noun.
article
    ``a``↔``an`` swapped where inflect's choice matches the original; ``a/an`` dropped
    (not before ``few``/``little``, where the result stays grammatical); ``the`` before a
    plural noun replaced by ``a``/``an``; ``the`` inserted before a possessive (``the my``).
tense
    After a modal or ``do/does/did`` (+ an optional pronoun or adverb), the base verb
    becomes its past (``will went``; the -ing form when the past equals the base); after
    ``have/has/had`` a participle that differs from the base becomes the base (``has
    eat``); after a form of ``be`` an -ing form or a participle becomes the base (``is
    eat``), unless the base equals the participle (``is run``) or can be an adjective
    (``is close``); after a nominative pronoun a finite verb becomes its -ing form (``He
    eating``).
preposition
    Only in the fixed collocations of :data:`PREPOSITION_RULES` (``interested in``,
    ``because of``, ``at night``...), replaced by one of the listed wrong prepositions,
    which were chosen so the result is not another grammatical phrase: free swaps stay
    grammatical far too often (``a box from China`` → ``a box of China``).
plural
    A singular noun after ``a/an/one/this/each/every/another`` made plural, or a plural
    noun after ``two``..``ten``/``many/these/those/several/both/various/few`` made
    singular (lemminflect / inflect). The noun must be followed by a word that cannot be
    a noun (no compounds: ``a sports car``) and must not be a function word; singular
    nouns whose plural lemminflect does not know, and plurals whose singular is the same
    word (``sheep``) or that are not regular nouns (``people``) are skipped.

Every corrupted text differs from its clean sentence; ``position`` is the index (in the
tokenization below) of the first token that differs: the changed, inserted or — for a
dropped article — the following token. Which type a sentence gets is seeded and balanced:
sentences are visited in a seeded order and each takes, among the types applicable to it,
the one used least so far (ties broken at random); the site is drawn uniformly among that
type's candidates. ``numpy.random.default_rng([seed, 0x6772])`` drives both; nothing else
(no global state, no set order), so a profile and seed give byte-identical splits for the
same package versions (``info["versions"]``, ``info["sources"]``).

Splits
------
By source sentence, so a clean sentence and its corruption are always on the same side:
``h = int(sha256("edzoo-grammar-split:" + clean).hexdigest()[:8], 16) % 10``; ``h == 0``
test, ``h == 1`` validation, else training. The assignment does not depend on the seed.
The ``quick`` profile keeps the :data:`PROFILES` count of WordNet sentences with the smallest
``sha256("edzoo-grammar-subset:" + clean)`` (also seed-free), ``full`` keeps all; both add the
first :data:`SIMPLE_PROFILES` simple sentences, split by the same hash.

Tokenizer (shipped with the model; :class:`Tokenizer`, ``info["tokenizer"]``)
------------------------------------------------------------------------------
Lowercase (ASCII ``A-Z`` → ``a-z``), then ``re.findall(r"[a-z0-9]+(?:'[a-z]+)*|[^\\sa-z0-9]")``:
words (with inner apostrophes, ``don't`` is one token) and single non-space characters.
Vocabulary: the specials ``[PAD]`` = 0, ``[CLS]`` = 1, then the 12 unknown-word tokens of
:data:`UNKNOWN_TOKENS`, then the training split's tokens (clean and corrupted texts) seen at
least twice, most frequent first (ties alphabetical), at most ``vocab_size`` in total. A
token not in the vocabulary becomes, checking in this order: ``[UNK-NUM]`` if it has a
digit; ``[UNK-PUNCT]`` if it has no letter; otherwise ``[UNK`` + ``-V`` if it starts with
``a e i o u`` + the first suffix class that matches (``-ing``: ends in ``ing``, length ≥ 5;
``-ed``: ``ed``, ≥ 4; ``-ly``: ``ly``, ≥ 4; ``-s``: ``s`` but not ``ss``, ``us`` or ``is``,
≥ 3) + ``]``, e.g. ``[UNK]``, ``[UNK-s]``, ``[UNK-V-ing]``: ``unknown_rules_version`` 2 of
:func:`registry.core.preprocess.unknown_token` (version 1, of grammar models before 2.0.0,
took ``cactus`` and ``oasis`` for plurals; it made singular nouns in ``-us``/``-is`` read as
``[UNK-s]``, so "Every oasis vanishes." looked like a number error). A sequence is ``[CLS]`` then the tokens,
cut to ``max_len`` and right-padded with ``[PAD]``.

Splits hold ``x`` int32 (N, max_len), ``y`` int64 and ``meta``: ``error_type`` (int32,
= ``y``), ``position`` (int32 index in ``x`` of the first changed token, i.e. the text
position + 1 for ``[CLS]``; -1 for ``ok`` or when truncated away), ``source`` (int32 id of
the source sentence: its index in the full filtered corpus) and ``text`` (the sentence as a
numpy unicode array; :func:`texts` returns it as a list). ``info["test_texts"]`` repeats the
test texts for golden samples and reports. The cache stores texts and labels; the tokenizer
and the encodings are rebuilt from them on load.

Measured (2-core machine, wordnet-base 1:3.0-370.2.3, lemminflect 0.2.3, inflect 7.6.0)
---------------------------------------------------------------------------------------
* Corpus: 48,339 quoted gloss examples, 8,790 sentence-like; 3,994 (sense, template) pairs,
  3,759 instantiated; the content filter drops 840 (most for crime and violence); after
  deduplication 11,574 sentences, 8,157 from glosses and 3,417 from frames.
* Rules applicable (full): tense 5,005 sentences, article 4,158, agreement 2,589, plural
  1,488, preposition 754; 27 % of the sentences take none. After balancing (full, seed 0):
  agreement 2,046, article 2,127, tense 2,126, preposition 753, plural 1,373, so 58 % of
  the records are ``ok``. 88 % of the preposition errors come from the verb + preposition
  → ``of`` rule; the collocation table gives the rest.
* With the simple sentences (format 4: all 137 irregular nouns): ``quick`` takes 3,000 WordNet and
  2,500 simple sentences, 10,045 records (8,059 / 1,023 / 963 train / val / test), vocabulary
  4,000 (capped). ``full``: 11,574 WordNet and 12,000 simple sentences, 43,344 records (34,727 /
  4,383 / 4,234), vocabulary 4,000; in training agreement 3,836, article 3,674, tense 3,841,
  preposition 603, plural 3,857 (format 3, 60 irregular nouns: 34,657 / 4,416 / 4,271). Generated in
  15–18 s (the rare-word lists from ``index.noun``/``index.verb`` take about 3 s). Nothing is
  truncated at ``max_len`` 28.
* Format 1 (WordNet only), for comparison: ``quick`` 3,000 sentences, 7,179 records
  (4,191 / 531 / 457), vocabulary 3,265; ``full`` 19,999 records (16,064 / 2,004 / 1,931).
  12 % of the test tokens (full) are unknown words.
* :func:`baseline` (binary ok vs error), test accuracy (format 1): ``quick`` 0.705, ``full``
  0.721 (validation 0.680 / 0.702); on ``full`` it flags 57–72 % of each error type and keeps
  82 % of the clean sentences; 2–11 s. Format 2 ``quick``: 0.594 (validation 0.586): the
  simple sentences' errors are a change of number or form that character n-grams cannot see.
* 0.1 % of the corrupted records (format 1) encode to the same ids as their clean sentence
  (both words unknown with the same shape: ``befall``/``befell``).

Limitations
-----------
* The clean sentences are adult dictionary examples and simple frame sentences, not
  children's writing; the errors are synthetic, one per sentence, of five kinds only.
  Real children's errors (spelling, run-ons, word order, missing words) are not covered.
* Rules use a dictionary without a tagger, so a few corruptions may still be grammatical
  or be of a different kind than labelled; contexts were chosen to keep this rare.
* Frame sentences are formulaic (~30 % of the corpus) and can be semantically odd
  (``They abandon the coin.``) though grammatical.
* Preposition errors are mostly a wrong ``of`` after a verb; other confusions
  (``in``/``on``/``at``) only occur in the listed collocations.
* The content filter is a word list: it misses offensive meaning without listed words and
  drops innocent uses (``shot`` a photo).

The package, one job per module: :mod:`._base` (labels, parameters, errors), :mod:`.blocklist`
(the content filter), :mod:`.wordnet` (the WordNet sentences), :mod:`.rules` (the error
generator), :mod:`.simple` (simple sentences and their lexicon), :mod:`.tokenizer`,
:mod:`.dataset` (:func:`load`) and :mod:`.baseline`.
"""

from registry.core.preprocess import TOKEN_PATTERN, unknown_token
from zoo.datasets.common import Dataset, Split, split_sha256

from ._base import (
    ERROR_TYPES,
    LABELS,
    PROFILES,
    SIMPLE_PROFILES,
    WORDNET_DIR,
    GenerationParams,
    InflectionMissingError,
    WordNetMissingError,
)
from .baseline import baseline
from .blocklist import BLOCKLIST, blocked
from .dataset import load, texts
from .rules import OF_VERBS, PREPOSITION_RULES, corrupt
from .simple import LEXICON_SIZES, RARE_SHARE, Lexicon, lexicon, simple_sentences
from .tokenizer import UNKNOWN_RULES_VERSION, UNKNOWN_TOKENS, Tokenizer
from .wordnet import SUBJECTS, instantiate, sentences

__all__ = [
    "BLOCKLIST",
    "ERROR_TYPES",
    "LABELS",
    "LEXICON_SIZES",
    "OF_VERBS",
    "PREPOSITION_RULES",
    "PROFILES",
    "RARE_SHARE",
    "SIMPLE_PROFILES",
    "SUBJECTS",
    "TOKEN_PATTERN",
    "UNKNOWN_RULES_VERSION",
    "UNKNOWN_TOKENS",
    "WORDNET_DIR",
    "Dataset",
    "GenerationParams",
    "InflectionMissingError",
    "Lexicon",
    "Split",
    "Tokenizer",
    "WordNetMissingError",
    "baseline",
    "blocked",
    "corrupt",
    "instantiate",
    "lexicon",
    "load",
    "sentences",
    "simple_sentences",
    "split_sha256",
    "texts",
    "unknown_token",
]
