"""General English news vocabulary the actor rules read: countries and their demonyms,
titles, organization words, dates, speech verbs and group nouns. It is data, not rules,
and general knowledge, not fitted to one article, so it lives apart from the code that
reads it: a list grows without touching a rule, and a rule is read without scrolling
past the world's countries.
"""

from __future__ import annotations

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
PEOPLE_OF: dict[str, str] = {}
for _d, _c in list(DEMONYM_OF.items()):
    if _d.endswith(("an", "i")):
        PEOPLE_OF[_d + "s"] = _c
PEOPLE_OF |= {"Britons": "United Kingdom", "Brits": "United Kingdom", "Turks": "Turkey",
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
TITLE_CORE = TITLE_WORDS - frozenset(
    """vice deputy foreign defense defence interior finance treasury health education trade
    economy labor labour energy environment agriculture state national security homeland
    junior senior former acting interim first minority majority""".split()
)
# Courtesy titles: they mark a person but are no role.
HONORIFICS = frozenset("mr. mrs. ms. dr. sir dame mr mrs ms dr".split())

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
KNOWN_ORGS = frozenset(
    """
    NATO UN EU UNICEF UNESCO WHO IMF OPEC ASEAN AU FBI CIA NSA FDA EPA NASA BBC CNN AP
    Reuters AFP Xinhua TASS Kremlin Pentagon Congress Parliament Senate Interpol Hamas
    Hezbollah Taliban FARC ETA IRA ICC ICJ WTO OECD G7 G8 G20 Knesset Duma Politburo
    Vatican Amtrak Microsoft Google Apple Facebook Amazon Twitter Boeing Airbus
    """.split()
)
MONTHS = frozenset(
    """january february march april may june july august september october november
    december jan. feb. mar. apr. jun. jul. aug. sep. sept. oct. nov. dec.""".split()
)
DAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday today yesterday".split())
# Capitalized words that start sentences (or follow a quote) but name nothing.
COMMON_START = frozenset(
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
PLACE_PREPOSITIONS = frozenset(
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
CONNECTORS = frozenset("of de del della da di van von bin bint ibn al el la le du dos das".split())
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
