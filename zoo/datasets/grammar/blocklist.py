"""The content filter: :data:`BLOCKLIST` and :func:`blocked` (the package docstring, "Content filter")."""

from __future__ import annotations

import re
from functools import lru_cache

#: Content filter: category -> lowercase stems, matched on whole words with simple suffixes.
BLOCKLIST: dict[str, tuple[str, ...]] = {
    "violence": (
        "kill", "murder", "assassin", "assassinate", "slaughter", "massacre", "stab", "strangle", "torture",
        "assault", "attack", "violent", "violence", "blood", "bloody", "bleed", "wound", "war", "warfare",
        "combat", "terror", "terrorist", "terrorism", "hostage", "kidnap", "abuse", "rape", "raping", "brutal",
        "beating", "bled", "slay", "slain", "behead", "lynch", "genocide", "execution", "whip", "punch", "choke",
        "victim", "mugger", "mugging",
    ),
    "weapons": (
        "gun", "rifle", "pistol", "revolver", "shotgun", "bullet", "sword", "dagger", "weapon", "ammunition",
        "missile", "grenade", "bomb", "explosive", "cannon", "shoot", "shot", "firearm", "bayonet", "artillery",
    ),
    "death": (
        "death", "dead", "die", "dying", "corpse", "suicide", "drown", "poison", "deadly", "fatal", "coffin",
        "cadaver", "carcass", "mortal", "perish",
    ),
    "crime": (
        "crime", "criminal", "steal", "stole", "stolen", "thief", "thieves", "rob", "robbery", "robber",
        "burglar", "prison", "jail", "arrest", "convict", "fraud", "smuggle", "gang", "mafia", "prostitute",
        "prostitution", "murderer", "vandal", "hijack",
    ),
    "drugs": (
        "drug", "cocaine", "heroin", "marijuana", "opium", "narcotic", "addict", "addiction", "overdose",
        "cannabis", "hashish", "meth", "lsd", "amphetamine", "morphine",
    ),
    "alcohol_tobacco": (
        "alcohol", "alcoholic", "beer", "wine", "whiskey", "whisky", "vodka", "gin", "rum", "brandy", "liquor",
        "drunk", "drunken", "booze", "cocktail", "champagne", "cigarette", "cigar", "tobacco", "nicotine",
        "hangover", "tipsy", "bourbon", "sherry", "ale",
    ),
    "sexual": (
        "sex", "sexual", "sexy", "naked", "nude", "porn", "pornography", "erotic", "brothel", "orgasm", "penis",
        "vagina", "breast", "lust", "seduce", "intercourse", "mistress", "adultery", "virgin", "condom",
        "lover", "genital", "genitals", "buttock", "nipple", "harlot", "pimp",
    ),
    "insults_slurs": (
        "idiot", "stupid", "moron", "fool", "dumb", "retard", "bastard", "bitch", "damn", "hell", "crap",
        "shit", "fuck", "ass", "asshole", "jerk", "whore", "slut", "nigger", "negro", "faggot", "fag", "dyke",
        "spic", "chink", "kike", "wop", "gook", "tranny", "queer", "coon", "imbecile", "cretin",
    ),
    "gambling": ("gamble", "gambler", "casino"),
}  # fmt: skip


_SUFFIXES = ("", "s", "es", "d", "ed", "ing", "er", "ers", "y", "ly")


@lru_cache(maxsize=1)
def _block_index() -> dict[str, str]:
    """Every blocked word form -> its category (the first category listing it)."""
    index: dict[str, str] = {}
    for category, stems in BLOCKLIST.items():
        for stem in stems:
            forms = [stem + suffix for suffix in _SUFFIXES]
            forms += [stem + stem[-1] + suffix for suffix in ("ed", "ing", "er", "ers", "y")]  # kidnapped
            if stem.endswith("e"):
                forms += [stem[:-1] + suffix for suffix in ("ing", "er", "ers", "y")]  # choking
            for form in forms:
                index.setdefault(form, category)
    return index


def blocked(sentence: str) -> list[str]:
    """The blocklist categories whose words occur in ``sentence`` (empty: the sentence is kept)."""
    index = _block_index()
    found = {index[w] for w in re.findall(r"[a-z]+", sentence.lower()) if w in index}
    return sorted(found)
