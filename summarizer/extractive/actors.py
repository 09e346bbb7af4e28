"""Actors found by rules: capitalized names, titles and appositives, merged by surname.

A small model invents or drops actors; news prose names its actors in a few fixed
ways (``German Chancellor Angela Merkel``, ``Rafael Correa, the president of
Ecuador,``, later just ``Merkel``), so runs of capitalized words plus a handful of
general lists (titles, countries and their demonyms, organization words) recover most
of them. Everything here is general English news convention; nothing is fitted to one
article.

The token helpers and lists are shared with :mod:`.commitments` and :mod:`.questions`,
which need to find the same actors' mentions in a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from summarizer.contract.models import Actor, ActorKind
from summarizer.extractive.sentences import Sentence, quote

MAX_ACTORS = 20  # the contract's upper bound (llm_schema._LIST_BOUNDS)
MAX_ALIASES = 6

# --- general lists -------------------------------------------------------------------

# Country -> demonym adjectives (plural people forms are derived where regular).
_COUNTRIES: dict[str, tuple[str, ...]] = {
    "Afghanistan": ("Afghan",), "Albania": ("Albanian",), "Algeria": ("Algerian",),
    "Angola": ("Angolan",), "Argentina": ("Argentine", "Argentinian"),
    "Armenia": ("Armenian",), "Australia": ("Australian",), "Austria": ("Austrian",),
    "Azerbaijan": ("Azerbaijani",), "Bahrain": ("Bahraini",),
    "Bangladesh": ("Bangladeshi",), "Belarus": ("Belarusian",), "Belgium": ("Belgian",),
    "Bolivia": ("Bolivian",), "Bosnia": ("Bosnian",), "Botswana": ("Botswanan",),
    "Brazil": ("Brazilian",), "Bulgaria": ("Bulgarian",), "Burma": ("Burmese",),
    "Cambodia": ("Cambodian",), "Cameroon": ("Cameroonian",), "Canada": ("Canadian",),
    "Chad": ("Chadian",), "Chile": ("Chilean",), "China": ("Chinese",),
    "Colombia": ("Colombian",), "Congo": ("Congolese",), "Costa Rica": ("Costa Rican",),
    "Croatia": ("Croatian",), "Cuba": ("Cuban",), "Cyprus": ("Cypriot",),
    "Czech Republic": ("Czech",), "Denmark": ("Danish",),
    "Dominican Republic": ("Dominican",), "Ecuador": ("Ecuadorian", "Ecuadorean"),
    "Egypt": ("Egyptian",), "El Salvador": ("Salvadoran",), "Eritrea": ("Eritrean",),
    "Estonia": ("Estonian",), "Ethiopia": ("Ethiopian",), "Fiji": ("Fijian",),
    "Finland": ("Finnish",), "France": ("French",), "Georgia": ("Georgian",),
    "Germany": ("German",), "Ghana": ("Ghanaian",), "Greece": ("Greek",),
    "Guatemala": ("Guatemalan",), "Guinea": ("Guinean",), "Haiti": ("Haitian",),
    "Honduras": ("Honduran",), "Hungary": ("Hungarian",), "Iceland": ("Icelandic",),
    "India": ("Indian",), "Indonesia": ("Indonesian",), "Iran": ("Iranian",),
    "Iraq": ("Iraqi",), "Ireland": ("Irish",), "Israel": ("Israeli",),
    "Italy": ("Italian",), "Jamaica": ("Jamaican",), "Japan": ("Japanese",),
    "Jordan": ("Jordanian",), "Kazakhstan": ("Kazakh",), "Kenya": ("Kenyan",),
    "Kosovo": ("Kosovar",), "Kuwait": ("Kuwaiti",), "Kyrgyzstan": ("Kyrgyz",),
    "Laos": ("Laotian",), "Latvia": ("Latvian",), "Lebanon": ("Lebanese",),
    "Liberia": ("Liberian",), "Libya": ("Libyan",), "Lithuania": ("Lithuanian",),
    "Luxembourg": ("Luxembourgish",), "Madagascar": ("Malagasy",),
    "Malawi": ("Malawian",), "Malaysia": ("Malaysian",), "Mali": ("Malian",),
    "Malta": ("Maltese",), "Mauritania": ("Mauritanian",), "Mexico": ("Mexican",),
    "Moldova": ("Moldovan",), "Mongolia": ("Mongolian",),
    "Montenegro": ("Montenegrin",), "Morocco": ("Moroccan",),
    "Mozambique": ("Mozambican",), "Myanmar": (), "Namibia": ("Namibian",),
    "Nepal": ("Nepalese", "Nepali"), "Netherlands": ("Dutch",),
    "New Zealand": (), "Nicaragua": ("Nicaraguan",), "Niger": ("Nigerien",),
    "Nigeria": ("Nigerian",), "North Korea": ("North Korean",), "Norway": ("Norwegian",),
    "Oman": ("Omani",), "Pakistan": ("Pakistani",), "Palestine": ("Palestinian",),
    "Panama": ("Panamanian",), "Paraguay": ("Paraguayan",), "Peru": ("Peruvian",),
    "Philippines": ("Filipino", "Philippine"), "Poland": ("Polish",),
    "Portugal": ("Portuguese",), "Qatar": ("Qatari",), "Romania": ("Romanian",),
    "Russia": ("Russian",), "Rwanda": ("Rwandan",), "Saudi Arabia": ("Saudi",),
    "Senegal": ("Senegalese",), "Serbia": ("Serbian", "Serb"),
    "Sierra Leone": ("Sierra Leonean",), "Singapore": ("Singaporean",),
    "Slovakia": ("Slovak",), "Slovenia": ("Slovenian",), "Somalia": ("Somali",),
    "South Africa": ("South African",), "South Korea": ("South Korean",),
    "South Sudan": ("South Sudanese",), "Spain": ("Spanish",),
    "Sri Lanka": ("Sri Lankan",), "Sudan": ("Sudanese",), "Sweden": ("Swedish",),
    "Switzerland": ("Swiss",), "Syria": ("Syrian",), "Taiwan": ("Taiwanese",),
    "Tajikistan": ("Tajik",), "Tanzania": ("Tanzanian",), "Thailand": ("Thai",),
    "Tibet": ("Tibetan",), "Togo": ("Togolese",), "Tunisia": ("Tunisian",),
    "Turkey": ("Turkish",), "Turkmenistan": ("Turkmen",), "Uganda": ("Ugandan",),
    "Ukraine": ("Ukrainian",), "United Arab Emirates": ("Emirati",),
    "United Kingdom": ("British",), "United States": ("American",),
    "Uruguay": ("Uruguayan",), "Uzbekistan": ("Uzbek",), "Vatican": (),
    "Venezuela": ("Venezuelan",), "Vietnam": ("Vietnamese",), "Yemen": ("Yemeni",),
    "Zambia": ("Zambian",), "Zimbabwe": ("Zimbabwean",),
}  # fmt: skip
# Other names of a country, written as in news text.
_COUNTRY_ALIASES = {
    "U.S.": "United States", "US": "United States", "USA": "United States",
    "U.S.A.": "United States", "America": "United States", "United States of America":
    "United States", "UK": "United Kingdom", "U.K.": "United Kingdom",
    "Britain": "United Kingdom", "Great Britain": "United Kingdom",
    "Holland": "Netherlands", "the Netherlands": "Netherlands", "PRC": "China",
    "DPRK": "North Korea", "ROK": "South Korea", "UAE": "United Arab Emirates",
    "Ivory Coast": "Ivory Coast", "Czechia": "Czech Republic",
}  # fmt: skip
COUNTRY_OF: dict[str, str] = {c: c for c in _COUNTRIES} | _COUNTRY_ALIASES
DEMONYM_OF: dict[str, str] = {d: c for c, ds in _COUNTRIES.items() for d in ds}
DEMONYM_OF |= {"U.S.": "United States", "US": "United States", "UK": "United Kingdom"}
# Plural people forms ("the Russians", "Palestinians").
_PEOPLE_OF: dict[str, str] = {}
for _d, _c in list(DEMONYM_OF.items()):
    if _d.endswith(("an", "i")):
        _PEOPLE_OF[_d + "s"] = _c
_PEOPLE_OF |= {"Britons": "United Kingdom", "Brits": "United Kingdom", "Turks": "Turkey",
               "Poles": "Poland", "Swedes": "Sweden", "Danes": "Denmark", "Finns": "Finland",
               "Greeks": "Greece", "Serbs": "Serbia", "Croats": "Croatia", "Kurds": "Kurdistan",
               "Arabs": "", "Jews": "", "Muslims": "", "Christians": "", "Filipinos":
               "Philippines", "Afghans": "Afghanistan", "Israelis": "Israel"}  # fmt: skip

# Words of a person's title or function (lower case). A run of these (with demonyms,
# a possessive country and "of") before a name, or in an appositive, is the role.
TITLE_WORDS = frozenset(
    """
    president vice prime minister chancellor secretary senator sen. rep. representative
    congressman congresswoman governor gov. mayor king queen prince princess pope emperor
    premier general gen. judge justice spokesman spokeswoman spokesperson ambassador
    chairman chairwoman chair ceo cfo executive director commissioner chief leader head
    lt. col. colonel captain capt. lieutenant sergeant sgt. commander admiral officer
    detective inspector constable coach manager speaker attorney advisor adviser envoy
    deputy foreign defense defence interior finance treasury health education justice
    trade economy labor labour energy environment agriculture state national security
    homeland junior senior former acting interim first lady minority majority whip
    archbishop bishop cardinal rabbi imam sheikh cleric lawyer prosecutor professor prof.
    dr. analyst economist founder owner president-elect co-founder superintendent
    administrator official chairperson striker midfielder defender goalkeeper player
    mp mep councillor councilman councilwoman legislator lawmaker candidate nominee
    """.split()
)
# Core words: a role needs at least one of these (not only "foreign" or "national").
_TITLE_CORE = TITLE_WORDS - frozenset(
    """vice deputy foreign defense defence interior finance treasury health education trade
    economy labor labour energy environment agriculture state national security homeland
    junior senior former acting interim first minority majority""".split()
)
# Courtesy titles: they mark a person but are no role.
_HONORIFICS = frozenset("mr. mrs. ms. dr. sir dame mr mrs ms dr".split())

# A run that contains one of these names an organization.
ORG_WORDS = frozenset(
    """
    ministry department council party agency commission committee company corporation
    corp. corp inc. inc ltd. ltd plc llc group bank union association organization
    organisation institute university college school court tribunal parliament congress
    senate assembly army navy force forces police service services bureau office board
    authority administration government cabinet federation league club fund foundation
    network news times post journal press agency airlines airline airways railway
    railroad hospital church coalition alliance front movement commission secretariat
    reserve exchange guard guards brigade regiment command centre center society trust
    studios media broadcasting television radio channel magazine newspaper federation
    programme program project team fc united museum
    """.split()
)
# Well-known bodies written as one word or an acronym (general knowledge).
_KNOWN_ORGS = frozenset(
    """
    NATO UN EU UNICEF UNESCO WHO IMF OPEC ASEAN AU FBI CIA NSA FDA EPA NASA BBC CNN AP
    Reuters AFP Xinhua TASS Kremlin Pentagon Congress Parliament Senate Interpol Hamas
    Hezbollah Taliban FARC ETA IRA ICC ICJ WTO OECD G7 G8 G20 Knesset Duma Politburo
    Vatican Amtrak Microsoft Google Apple Facebook Amazon Twitter Boeing Airbus
    """.split()
)
_MONTHS = frozenset(
    """january february march april may june july august september october november
    december jan. feb. mar. apr. jun. jul. aug. sep. sept. oct. nov. dec.""".split()
)
_DAYS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday today yesterday".split()
)
# Capitalized words that start sentences (or follow a quote) but name nothing.
_COMMON_START = frozenset(
    """
    the a an in on at after before but and however meanwhile while when as according
    some many most one two three four five six seven eight nine ten both this that
    these those there it its he she they we i his her their our you your if although
    though since despite during with without for from by of to under over about also
    still yet so then now later earlier last next first finally speaking following
    asked other another all no not only every each such what which who why how where
    mr mrs ms dr instead further furthermore moreover thus overall nearly about around
    officials police critics supporters analysts experts reports sources
    """.split()
)
# Words after which a country or city is only a place ("in Saudi Arabia").
_PLACE_PREPOSITIONS = frozenset(
    """in at near from into across throughout outside inside around towards toward via
    on through within between to over""".split()
)
SPEECH_VERBS = frozenset(
    """said says say told tells announced announces stated states added claimed claims
    argued argues warned warns insisted insists denied denies confirmed confirms
    reported reports wrote writes explained explains noted notes asked asks urged urges
    accused accuses called calls declared declares promised promises pledged pledges
    vowed vows agreed agrees signed signs rejected rejects admitted admits responded
    responds replied said, criticized criticised praised welcomed condemned demanded
    demands requested requests proposed proposes decided decides plans planned wants
    will would has had have is was met meets launched ordered approved voted led""".split()
)
_CONNECTORS = frozenset("of de del della da di van von bin bint ibn al el la le du dos das".split())
# Group nouns: plural people acting together ("protesters said").
GROUP_NOUNS = frozenset(
    """
    officials forces troops rebels protesters protestors militants authorities residents
    refugees workers students lawmakers legislators soldiers activists critics voters
    demonstrators separatists insurgents investigators prosecutors doctors scientists
    experts fans employees families survivors victims passengers police leaders
    ministers politicians opponents supporters members delegates diplomats citizens
    villagers farmers teachers nurses journalists researchers judges officers
    """.split()
)

_TOKEN = re.compile(r"(?:[A-Z]\.){2,}|[^\W\d_](?:[\w\-]|['’](?=\w))*\.?(?<!['’]s\.)|\d[\w.,:/]*")


@dataclass(frozen=True)
class Token:
    text: str  # possessive "'s" stripped, trailing abbreviation dot kept
    start: int  # offset in the article
    end: int
    possessive: bool
    follows_space: bool  # only whitespace between this and the previous token
    initial: bool  # first word of the sentence or of a quotation

    @property
    def low(self) -> str:
        return self.text.lower()

    @property
    def capital(self) -> bool:
        return self.text[:1].isupper() or (self.text[:3] in ("al-", "el-") and len(self.text) > 3)


def tokens(sentence: Sentence) -> list[Token]:
    """The sentence's words, with article offsets, possessives split off."""
    out: list[Token] = []
    text = sentence.text
    prev_end = 0
    for m in _TOKEN.finditer(text):
        word = m.group(0)
        gap = text[prev_end : m.start()]
        possessive = False
        if re.search(r"['’]s$", word) and len(word) > 2:
            word, possessive = word[:-2], True
        elif word.endswith(".") and not _is_abbrev(word):
            word = word[:-1]
        initial = (
            not out
            or bool(re.search(r"[\"“‘:(—–]\s*$", gap))
            or bool(re.search(r"[.!?][\"”’]?\s+$", gap))
        )
        out.append(
            Token(
                word,
                sentence.start + m.start(),
                sentence.start + m.start() + len(word),
                possessive,
                gap.strip() == "" and bool(out),
                initial,
            )
        )
        prev_end = m.end()
    return out


def _is_abbrev(word: str) -> bool:
    low = word.lower()
    return (
        bool(re.fullmatch(r"(?:[a-z]\.){2,}", low))
        or low in _MONTHS
        or low in _HONORIFICS
        or (low in TITLE_WORDS and low.endswith("."))
        or low
        in {"st.", "jr.", "sr.", "no.", "co.", "corp.", "inc.", "ltd.", "gen.", "lt.", "col."}
    )


# --- mentions ------------------------------------------------------------------------


@dataclass
class Mention:
    name: str  # the core name, titles stripped
    sentence: int
    start: int
    end: int
    tok_index: int  # index of the first core token in the sentence's tokens
    tok_end: int
    role: str | None = None
    affiliation: str | None = None
    titled: bool = False
    honorific: bool = False
    place_only: bool = False
    subject: bool = False  # followed by a speech or action verb
    acronym: str | None = None  # "(SBU)" right after the name
    initial: bool = False  # first word of a sentence: capitalized anyway


@dataclass
class _Cand:
    name: str
    kind: ActorKind
    mentions: list[Mention] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    role: str | None = None
    affiliation: str | None = None

    def score(self) -> float:
        subj = sum(1 for m in self.mentions if m.subject)
        first = min(m.sentence for m in self.mentions)
        return (
            len(self.mentions)
            + 1.5 * subj
            + (1.0 if self.role else 0.0)
            + (1.0 if first < 3 else 0.0)
            + (0.5 if self.kind == "person" else 0.0)
        )


def _is_word_like_common(tok: Token, lower_words: frozenset[str]) -> bool:
    """A capitalized word at a sentence start that is really a common word."""
    low = tok.low
    return (
        low in _COMMON_START
        or low in lower_words
        or (low.endswith(("ing", "ly")) and len(low) > 5)
        or low in _MONTHS
        or low in _DAYS
    )


def _name_runs(
    sentence: Sentence, toks: list[Token], lower_words: frozenset[str]
) -> list[tuple[int, int]]:
    """[i, j) token ranges of capitalized runs, joined by connectors."""
    runs: list[tuple[int, int]] = []
    i = 0
    n = len(toks)
    while i < n:
        t = toks[i]
        if not t.capital or t.low in _MONTHS or t.low in _DAYS or t.text.isdigit():
            i += 1
            continue
        if t.initial and _is_word_like_common(t, lower_words) and t.low not in TITLE_WORDS:
            i += 1
            continue
        j = i + 1
        while j < n and not toks[j - 1].possessive:
            nt = toks[j]
            if not nt.follows_space:
                break
            if nt.capital and nt.low not in _MONTHS and nt.low not in _DAYS and not nt.initial:
                j += 1
                continue
            if (
                nt.low in _CONNECTORS
                and j + 1 < n
                and toks[j + 1].capital
                and toks[j + 1].follows_space
                and toks[j + 1].low not in _MONTHS
            ):
                j += 2
                continue
            break
        runs.append((i, j))
        i = j
    return runs


def _lower_words(article: str) -> frozenset[str]:
    """Words the article also writes in lower case (so a capitalized one at a sentence
    start is a common word, not a name)."""
    return frozenset(w for w in re.findall(r"\b[a-z][a-z'-]+\b", article))


def _role_before(toks: list[Token], i: int) -> tuple[int, str | None]:
    """The first token index of a title phrase ending just before ``toks[i]``, and an
    affiliation (a country from a demonym or possessive)."""
    k = i
    affiliation: str | None = None
    while k > 0 and k < len(toks) and toks[k].follows_space:
        prev = toks[k - 1]
        low = prev.low
        if prev.possessive and k - 1 >= 0 and prev.text in COUNTRY_OF:
            affiliation = COUNTRY_OF[prev.text]
            k -= 1
            break
        if prev.possessive:
            break
        if low in TITLE_WORDS or (low == "of" and k < i):
            k -= 1
            continue
        if prev.text in DEMONYM_OF:
            affiliation = DEMONYM_OF[prev.text]
            k -= 1
            continue
        # "Kremlin spokesman", "Treasury Secretary": an organization word before a title.
        if prev.capital and toks[k].low in TITLE_WORDS and k < i and not prev.initial:
            k -= 1
            continue
        if prev.capital and toks[k].low in TITLE_WORDS and k < i and prev.initial:
            if prev.text in _KNOWN_ORGS or prev.low not in _COMMON_START:
                k -= 1
            break
        break
    return k, affiliation


def _clean_role(words: list[Token], article: str) -> str | None:
    """The role text from title tokens, or None when they hold no core title."""
    while words and (words[0].low in _HONORIFICS or words[0].low == "of"):
        words = words[1:]
    while words and (words[-1].low in _HONORIFICS or words[-1].low == "of"):
        words = words[:-1]
    if not words or not any(
        w.low.rstrip(".") in _TITLE_CORE or w.low in _TITLE_CORE for w in words
    ):
        return None
    # Drop a leading possessive country; it is the affiliation.
    if words[0].possessive and words[0].text in COUNTRY_OF:
        words = words[1:]
    if not words:
        return None
    return article[words[0].start : words[-1].end]


_APPOSITIVE = re.compile(r"^\s*,\s+(?:the |a |an )?([^,.;:()\"“”]{3,80}?)\s*(?:[,.;]|$|\))")


def _appositive(article: str, end: int) -> tuple[str | None, str | None]:
    """Role and affiliation from ", the president of Ecuador," after a name."""
    m = _APPOSITIVE.match(article[end : end + 100])
    if not m:
        return None, None
    phrase = m.group(1).strip()
    words = phrase.split()
    if not words or len(words) > 7 or words[0].lower() in {"who", "which", "that", "said", "and"}:
        return None, None
    lows = [w.lower().strip("'’s") for w in words]
    if not any(w in _TITLE_CORE for w in lows[:4]):
        return None, None
    affiliation: str | None = None
    first = re.sub(r"['’]s$", "", words[0])
    if first != words[0] and first in COUNTRY_OF:
        affiliation = COUNTRY_OF[first]
        phrase = " ".join(words[1:])
    elif words[0] in DEMONYM_OF:
        affiliation = DEMONYM_OF[words[0]]
    of = re.search(r"\b(?:of|for) (?:the )?([A-Z][\w.’'-]*(?: [A-Z][\w.’'-]*)*)", phrase)
    if of and affiliation is None:
        affiliation = COUNTRY_OF.get(of.group(1), of.group(1))
    return phrase, affiliation


def _mentions(article: str, sentences: Sequence[Sentence]) -> list[Mention]:
    lower_words = _lower_words(article)
    found: list[Mention] = []
    for s in sentences:
        toks = tokens(s)
        for i, j in _name_runs(s, toks, lower_words):
            run = toks[i:j]
            low_words = {t.low for t in run}
            is_org = bool(low_words & ORG_WORDS) and run[-1].low not in TITLE_WORDS
            core_i = i
            honorific = False
            if not is_org:
                while core_i < j and (
                    toks[core_i].low in TITLE_WORDS
                    or toks[core_i].low in _HONORIFICS
                    or (toks[core_i].text in DEMONYM_OF and toks[core_i].text not in COUNTRY_OF)
                    or (toks[core_i].text in DEMONYM_OF and core_i + 1 < j)
                    or (
                        toks[core_i].low not in ORG_WORDS
                        and core_i + 2 < j
                        and toks[core_i + 1].low in TITLE_WORDS
                    )
                ):
                    honorific |= toks[core_i].low in _HONORIFICS
                    core_i += 1
                    # "Governor of Washington Chris Gregoire": the place is the title's.
                    if core_i < j and toks[core_i].low == "of" and core_i > i:
                        core_i += 1
                        while core_i < j - 2 and toks[core_i].capital:
                            core_i += 1
                if core_i == j:
                    # Only title words: "President", "Ukrainian", or a country demonym.
                    continue
            # Leading "The" of a name ("The Guardian" -> "Guardian").
            while core_i < j - 1 and toks[core_i].low == "the":
                core_i += 1
            core_j = j
            of_affiliation: str | None = None
            lows = [t.low for t in toks[core_i:j]]
            if "of" in lows and not is_org:
                # "Vladimir Putin of Russia", "Wong Kwok-hing of FTU": a person of X.
                cut = core_i + lows.index("of")
                if cut - core_i >= 2 or toks[cut + 1].text in COUNTRY_OF:
                    core_j = cut
                    rest = toks[cut + 1 : j]
                    of_affiliation = article[rest[0].start : rest[-1].end] if rest else None
                    if of_affiliation:
                        of_affiliation = COUNTRY_OF.get(of_affiliation, of_affiliation)
            core = toks[core_i:core_j]
            if not core:
                continue
            name = article[core[0].start : core[-1].end]
            if name.lower() in _COMMON_START or name.lower() in TITLE_WORDS:
                continue
            title_start, affiliation = _role_before(toks, i)
            role = _clean_role(toks[title_start:core_i], article) if title_start < core_i else None
            for t in toks[title_start:core_i]:
                if t.text in DEMONYM_OF:
                    affiliation = affiliation or DEMONYM_OF[t.text]
            affiliation = affiliation or of_affiliation
            if role is None:
                app_role, app_aff = _appositive(article, core[-1].end)
                if app_role:
                    role, affiliation = app_role, affiliation or app_aff
            before = toks[title_start - 1] if title_start > 0 else None
            place_only = before is not None and before.low in _PLACE_PREPOSITIONS
            if before is not None and before.low == "the" and title_start - 2 >= 0:
                place_only = toks[title_start - 2].low in _PLACE_PREPOSITIONS
            after = toks[j] if j < len(toks) else None
            after2 = toks[j + 1] if j + 1 < len(toks) else None
            subject = (
                (after is not None and after.low in SPEECH_VERBS)
                or (
                    after is not None
                    and after.low in {"also", "then", "later", "has", "had"}
                    and after2 is not None
                    and after2.low.endswith("ed")
                )
                or (after is not None and after.low in {",", "who"})
            )
            # A speaker after a quote: "..., said Ecuadorian president Rafael Correa"
            if title_start > 0 and toks[title_start - 1].low in {"said", "says", "told"}:
                subject = True
            acr = re.match(
                r"\s*\(([A-Z][A-Za-z.&]{1,9})\)", article[core[-1].end : core[-1].end + 14]
            )
            found.append(
                Mention(
                    name=name,
                    sentence=s.index,
                    start=core[0].start,
                    end=core[-1].end,
                    tok_index=core_i,
                    tok_end=j,
                    role=role,
                    affiliation=affiliation,
                    titled=role is not None,
                    honorific=honorific,
                    place_only=place_only,
                    subject=subject,
                    acronym=acr.group(1) if acr else None,
                    initial=core[0].initial,
                )
            )
    return found


def _kind(name: str, mentions: Sequence[Mention]) -> ActorKind:
    words = name.split()
    lows = {w.lower() for w in words}
    if name in COUNTRY_OF:
        return "country"
    if name in _PEOPLE_OF:
        return "group"
    if lows & ORG_WORDS or name in _KNOWN_ORGS:
        return "organization"
    if any(m.titled or m.honorific for m in mentions):
        return "person"
    if re.fullmatch(r"[A-Z][A-Z.&]{1,8}", name):
        return "organization"
    if (
        len(words) >= 2
        and "of" not in lows
        and all(w[:1].isupper() or w.lower() in _CONNECTORS for w in words)
    ):
        return "person"
    return "organization"


def _initials(name: str) -> str:
    return "".join(w[0] for w in name.split() if w[:1].isupper())


def _merge(mentions: list[Mention]) -> list[_Cand]:
    """Mentions grouped into actors: by exact name, then a surname or a shorter tail to
    the one fuller person name it ends, an acronym to the name it abbreviates, and a
    country's other names to the country."""
    by_name: dict[str, list[Mention]] = {}
    for m in mentions:
        key = COUNTRY_OF.get(m.name, m.name)
        by_name.setdefault(key, []).append(m)
    cands = {n: _Cand(n, _kind(n, ms), list(ms)) for n, ms in by_name.items()}
    for m in mentions:
        canon = COUNTRY_OF.get(m.name)
        if canon and m.name != canon and m.name not in cands[canon].aliases:
            cands[canon].aliases.append(m.name)
    # Acronyms given in parentheses, or matching a name's initials.
    for c in list(cands.values()):
        for m in c.mentions:
            if m.acronym and m.acronym in cands and m.acronym != c.name:
                _absorb(cands, c.name, m.acronym)
            elif m.acronym and m.acronym not in c.aliases:
                c.aliases.append(m.acronym)
    for name in list(cands):
        if name not in cands or not re.fullmatch(r"[A-Z]{2,6}", name) or name in COUNTRY_OF:
            continue
        full = [n for n in cands if n != name and len(n.split()) >= 2 and _initials(n) == name]
        if len(full) == 1:
            _absorb(cands, full[0], name)
    # Shorter names into the one fuller name that ends (or, for two-word names,
    # starts) with them.
    for name in sorted(cands, key=lambda n: len(n.split())):
        if name not in cands or cands[name].kind in ("country", "group"):
            continue
        words = name.split()
        fuller = [
            n
            for n in cands
            if n != name
            and len(n.split()) > len(words)
            and cands[n].kind not in ("country", "group")
            and n.split()[-len(words) :] == words
        ]
        if len(fuller) != 1:
            persons = [n for n in fuller if cands[n].kind == "person"]
            fuller = persons if len(persons) == 1 else []
        if len(fuller) == 1:
            _absorb(cands, fuller[0], name)
    return list(cands.values())


def _absorb(cands: dict[str, _Cand], into: str, name: str) -> None:
    target, gone = cands[into], cands.pop(name)
    target.mentions.extend(gone.mentions)
    for alias in (gone.name, *gone.aliases):
        if alias != target.name and alias not in target.aliases:
            target.aliases.append(alias)
    if gone.kind == "person" and target.kind == "organization" and len(target.name.split()) <= 3:
        target.kind = "person"


def _group_mentions(article: str, sentences: Sequence[Sentence]) -> list[_Cand]:
    """Plural groups: "Ukrainian officials", "protesters", "the Russians"."""
    by_head: dict[str, _Cand] = {}
    pattern = re.compile(
        r"\b(?:([A-Z][\w.]*(?: [A-Z][\w.]*)?) )?(?:([a-z][a-z-]+) )?("
        + "|".join(sorted(GROUP_NOUNS))
        + r")\b"
    )
    for s in sentences:
        for m in pattern.finditer(s.text):
            mod, adj, head = m.group(1), m.group(2), m.group(3)
            if mod and mod not in DEMONYM_OF and mod not in COUNTRY_OF:
                mod = None
            if adj and adj in {
                "the",
                "of",
                "and",
                "by",
                "with",
                "to",
                "for",
                "from",
                "that",
                "said",
                "some",
                "many",
                "other",
                "two",
                "three",
                "several",
                "his",
                "her",
                "their",
                "million",
                "thousand",
                "hundred",
                "hundreds",
                "thousands",
                "millions",
                "all",
                "more",
                "most",
                "few",
                "these",
                "those",
                "its",
                "our",
                "were",
                "are",
                "whose",
                "which",
                "who",
            }:
                adj = None
            affiliation = None
            if mod:
                affiliation = DEMONYM_OF.get(mod) or COUNTRY_OF.get(mod)
            parts = [p for p in (mod, adj, head) if p]
            text = " ".join(parts)
            key = f"{affiliation or ''}|{head}"
            start = s.start + m.start(1 if mod else 2 if adj else 3)
            end = s.start + m.end(3)
            rest = s.text[m.end(3) : m.end(3) + 25].lower().split()
            subject = bool(rest) and (rest[0] in SPEECH_VERBS or rest[0] in {"have", "were", "are"})
            mention = Mention(
                text, s.index, start, end, 0, 0, subject=subject, affiliation=affiliation
            )
            cand = by_head.setdefault(key, _Cand(text, "group", affiliation=affiliation))
            if len(text) > len(cand.name) and mod:
                cand.aliases.append(cand.name)
                cand.name = text
            elif text != cand.name and text not in cand.aliases:
                cand.aliases.append(text)
            cand.mentions.append(mention)
    for s in sentences:
        for m in re.finditer(r"\b(?:the )?([A-Z][a-z]+s)\b", s.text):
            country = _PEOPLE_OF.get(m.group(1))
            if country is None:
                continue
            rest = s.text[m.end() : m.end() + 20].lower().split()
            subject = bool(rest) and rest[0] in SPEECH_VERBS
            mention = Mention(
                m.group(1), s.index, s.start + m.start(1), s.start + m.end(1), 0, 0, subject=subject
            )
            cand = by_head.setdefault(
                m.group(1), _Cand(m.group(1), "group", affiliation=country or None)
            )
            cand.mentions.append(mention)
    return [
        c for c in by_head.values() if len(c.mentions) >= 2 and any(m.subject for m in c.mentions)
    ]


def _finish(c: _Cand) -> None:
    """Role and affiliation from the mentions: the most frequent stated role."""
    roles = [m.role for m in c.mentions if m.role]
    if roles and c.kind == "person":
        c.role = max(roles, key=lambda r: (roles.count(r), -roles.index(r)))
    affs = [m.affiliation for m in c.mentions if m.affiliation]
    if affs and c.kind in ("person", "organization", "group"):
        c.affiliation = c.affiliation or max(affs, key=affs.count)
    if c.kind not in ("person",):
        c.role = None


def find_actors(article: str, sentences: Sequence[Sentence]) -> list[Actor]:
    """The article's actors, most salient first, at most :data:`MAX_ACTORS`."""
    mentions = _mentions(article, sentences)
    cands = _merge(mentions)
    cands.extend(_group_mentions(article, sentences))
    kept: list[_Cand] = []
    for c in cands:
        if all(m.place_only for m in c.mentions) and not any(m.subject for m in c.mentions):
            continue  # only ever a place: "in Saudi Arabia"
        if (
            c.kind == "organization"
            and len(c.name.split()) == 1
            and not re.fullmatch(r"[A-Z][A-Z.&]+", c.name)
            and c.name not in _KNOWN_ORGS
            and any(m.place_only for m in c.mentions)
            and not any(m.subject or m.titled for m in c.mentions)
        ):
            continue  # a city or region: "in Houston", "Houston's"
        if (
            c.kind == "organization"
            and len(c.name.split()) == 1
            and all(m.initial for m in c.mentions)
            and c.name not in _KNOWN_ORGS
            and not re.fullmatch(r"[A-Z][A-Z.&]+", c.name)
            and not c.aliases
        ):
            continue  # "Prices will rise": a common word that opens a sentence
        if c.kind == "group" and c.name in _PEOPLE_OF and not any(m.subject for m in c.mentions):
            continue
        _finish(c)
        kept.append(c)
    kept.sort(key=lambda c: (-c.score(), min(m.start for m in c.mentions)))
    chosen: list[_Cand] = []
    for c in kept:
        same = next((d for d in chosen if d.name == c.name), None)
        if same is not None:
            same.mentions.extend(c.mentions)
        elif _important(c) and len(chosen) < MAX_ACTORS:
            chosen.append(c)
    if not chosen and kept:
        chosen = kept[:1]
    by_index = {s.index: s for s in sentences}
    out: list[Actor] = []
    for c in chosen:
        ev_mention = next(
            (m for m in c.mentions if m.subject), min(c.mentions, key=lambda m: m.start)
        )
        out.append(
            Actor(
                name=c.name,
                kind=c.kind,
                role=c.role,
                affiliation=c.affiliation if c.affiliation != c.name else None,
                aliases=[a for a in c.aliases if a != c.name][:MAX_ALIASES],
                evidence=[quote(by_index[ev_mention.sentence])],
            )
        )
    return out


def _important(c: _Cand) -> bool:
    """Keep an actor named twice, or once with a title or as a speaker."""
    if c.kind == "group":
        return True
    n = len(c.mentions)
    subj = any(m.subject for m in c.mentions)
    titled = any(m.titled for m in c.mentions)
    if n >= 2:
        return True
    return subj or titled or (c.kind == "person")


# --- helpers for the other components --------------------------------------------------


def actor_spans(
    article: str, sentence: Sentence, actors: Sequence[Actor]
) -> list[tuple[int, int, str]]:
    """Where the sentence mentions an actor: (start, end, actor name), in text order,
    longest names first at a position."""
    found: list[tuple[int, int, str]] = []
    for actor in actors:
        for name in sorted({actor.name, *actor.aliases}, key=len, reverse=True):
            if len(name) < 2:
                continue
            for m in re.finditer(r"(?<![\w])" + re.escape(name) + r"(?![\w])", sentence.text):
                found.append((sentence.start + m.start(), sentence.start + m.end(), actor.name))
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    out: list[tuple[int, int, str]] = []
    last_end = -1
    for f in found:
        if f[0] >= last_end:
            out.append(f)
            last_end = f[1]
    return out


def names_in(article: str, sentence: Sentence, actors: Sequence[Actor]) -> list[str]:
    """The distinct actor names the sentence mentions, in order."""
    seen: list[str] = []
    for _, _, name in actor_spans(article, sentence, actors):
        if name not in seen:
            seen.append(name)
    return seen


def kinds(actors: Iterable[Actor]) -> dict[str, ActorKind]:
    return {a.name: a.kind for a in actors}
