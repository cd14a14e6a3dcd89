"""The words and phrases the grammar reads, and what each means.

Each table maps a word (or a phrase pattern) to its meaning: an entity, a column, a time grain, a
direction, a measure. The passes (passes.py) and the interpreter (interpreter.py) only combine
them.
"""

from __future__ import annotations

import re

from nl2sql.models.offline.dates import MONTHS
from nl2sql.models.offline.sample_columns import (
    CUSTOMERS__CITY,
    CUSTOMERS__COUNTRY,
    CUSTOMERS__CREATED_AT,
    ORDERS__CANCELED_AT,
    ORDERS__DELIVERED_AT,
    ORDERS__ORDERED_AT,
    ORDERS__SHIPPED_AT,
    ORDERS__STATUS,
    PRODUCTS__CATEGORY,
)
from nl2sql.models.offline.statuses import STATUS_VERBS
from nl2sql.models.offline.values import VOCABULARY

MONTH_WORDS = frozenset(MONTHS)

NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "fifty": 50,
    "hundred": 100,
}  # "one" stays a word: "the one that ..."
# Contractions typed without the apostrophe ("havent", "whats"): word -> spelled out. Only
# words that are not English words themselves ("wont", "ill", "its", "were" are left alone).
BARE_CONTRACTIONS = {
    **{
        f"{stem}nt": f"{stem} not"
        for stem in "have has had did does do was were is are could should would must need".split()
    },
    "cant": "cannot",
    "aint": "is not",
    **{f"{w}s": f"{w} is" for w in "what who where when how that there".split()},
    "ive": "i have",
    "im": "i am",
    "whatre": "what are",
    "theyre": "they are",
}
CONTRACTIONS = [
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b", "cannot"),
    (r"n't\b", " not"),
    (r"'ve\b", " have"),
    (r"'re\b", " are"),
    (r"'ll\b", " will"),
    (r"'d\b", " would"),
    (r"\b(what|that|there|it|who|where|when|how)'s\b", r"\1 is"),
    (r"'s\b", ""),
]

# Word -> the date column the verb means. Nearest verb before the date wins.
DATE_VERBS: dict[str, str] = {
    **dict.fromkeys(
        "placed place placing ordered order orders ordering purchased purchase purchasing "
        "bought buy buying shopping "
        "sold sell came come received made get got buyer buyers sale sales revenue "
        "spent spend spending".split(),
        ORDERS__ORDERED_AT,
    ),
    **dict.fromkeys(
        "shipped ship shipping sent dispatched shipment shipments".split(), ORDERS__SHIPPED_AT
    ),
    **dict.fromkeys(
        "delivered deliver arrived arrive latedelivered ontimedelivered delivery arrival".split(),
        ORDERS__DELIVERED_AT,
    ),
    **dict.fromkeys(
        "canceled cancelled cancel cancellation cancellations".split(), ORDERS__CANCELED_AT
    ),
    **dict.fromkeys(
        "signed signup signups joined join registered register new registration "
        "registrations sign".split(),
        CUSTOMERS__CREATED_AT,
    ),
}
NEGATIONS = (
    "excluding",
    "except",
    "without",
    "not",
    "non",
    "other than",
    "ignoring",
    "exclude",
    "but not",
    "no",
)

ENTITY_WORDS: dict[str, str] = {
    **dict.fromkeys(
        "order purchase parcel package shipment transaction delivery".split(), "orders"
    ),
    **dict.fromkeys(
        "customer buyer client shopper user people person who signup registration account "
        "spender anyone anybody someone somebody".split(),
        "customers",
    ),
    **dict.fromkeys("product item article thing sku seller mover bestseller".split(), "products"),
}
# "has anybody from Japan ordered?": the customers, unless another entity is named ("the last
# time someone from Italy placed an order" is about the orders).
INDEFINITE_PEOPLE = frozenset("anyone anybody someone somebody".split())
ATTRIBUTE_WORDS: dict[str, str] = {
    "category": PRODUCTS__CATEGORY,
    "country": CUSTOMERS__COUNTRY,
    "city": CUSTOMERS__CITY,
    "status": ORDERS__STATUS,
    "state": ORDERS__STATUS,
}
GRAIN_WORDS = {
    "day": "day",
    "date": "day",
    "daily": "day",
    "week": "week",
    "weekly": "week",
    "month": "month",
    "monthly": "month",
    "quarter": "quarter",
    "quarterly": "quarter",
    "year": "year",
    "yearly": "year",
    "annual": "year",
    "annually": "year",
}
PERIOD_ADVERBS = ("monthly", "weekly", "daily", "quarterly", "yearly", "annual", "annually")
GROUP_LEADS = {"by", "per", "each", "every", "across"}
GROUP_SKIP = {
    "the",
    "signup",
    "sign",
    "up",
    "their",
    "its",
    "our",
    "his",
    "her",
    "calendar",
    "delivery",
    "shipping",
    "single",
    "individual",
    "of",  # "for each of the two countries"
    "both",
    "these",
    "those",
}

# Before "by", these make it an ordering ("sort them by date"), not a grouping.
SORT_WORDS = ("sort", "sorted", "ordered", "rank", "ranked")
SORTING_BEFORE = (
    r"\b(?:sort|sorted|rank|ranked|arrange|arranged)\b|"
    r"\border (?:them|those|these|it)\b"
)
# How a result is to be sorted, said after what is asked ("revenue by country, highest first").
# Each phrase becomes a token (passes.py), so its superlative is not read as a ranking.
_BIG = r"(?:highest|largest|biggest|greatest|most|top|best|high|big|large|max)"
_SMALL = r"(?:lowest|smallest|least|fewest|worst|bottom|low|small|min)"
_FIRST = r"(?:ones? |values? |numbers? )?(?:at the top|first|on top)"
SORT_PHRASES: list[tuple[str, str]] = [
    (
        rf"\b(?:with |by )?(?:the )?{_BIG} {_FIRST}\b",
        "SORTDESC",
    ),
    (
        rf"\b(?:with |by )?(?:the )?{_SMALL} {_FIRST}\b",
        "SORTASC",
    ),
    (rf"\b(?:from |going )?(?:the )?{_BIG} to (?:the )?{_SMALL}\b", "SORTDESC"),
    (rf"\b(?:from |going )?(?:the )?{_SMALL} to (?:the )?{_BIG}\b", "SORTASC"),
    (
        r"\b(?:(?:in|by) )?(?:descending|decreasing|reverse) (?:order|value)\b|\bdescending\b",
        "SORTDESC",
    ),
    (r"\b(?:(?:in|by) )?(?:ascending|increasing) (?:order|value)\b|\bascending\b", "SORTASC"),
    (r"\b(?:the )?(?:oldest|earliest|least recent) (?:ones? |orders? )?first\b", "SORTOLD"),
    (r"\b(?:the )?(?:newest|latest|most recent) (?:ones? |orders? )?first\b", "SORTNEW"),
    (r"\b(?:(?:in|by) )?alphabetical(?:ly)?(?: order)?\b|\b(?:from )?a to z\b", "SORTALPHA"),
]
SORT_TOKENS = {
    "SORTDESC": "desc",
    "SORTASC": "asc",
    "SORTALPHA": "alpha",
    "SORTOLD": "oldest",  # by date: "oldest first"
    "SORTNEW": "newest",
}
# Everyday phrases spelt the way the grammar reads them (on the lower-cased question).
PHRASE_REWRITES: list[tuple[str, str]] = [
    (r"\b(?:year to date|ytd)\b", "this year"),
    (r"\b(?:month to date|mtd)\b", "this month"),
    # "the lowest price anyone paid for X": the price paid, by whoever paid it
    (
        r"\bprices? (?:that )?(?:anyone|anybody|someone|somebody|any customer|a customer|"
        r"customers|people|a buyer|buyers|shoppers) (?:has |have |had |ever |actually )*"
        r"(paid|been charged|was charged|were charged)\b",
        "price paid",
    ),
    # "what did i buy the most of?", "what do we sell most": the product, ranked by units
    (
        r"^what ((?:did|do|does|have|has) (?:\w+ ){1,3}?(?:buy|bought|order|ordered|purchase|"
        r"purchased|get|got|sell|sold)) (?:the )?most(?: of)?\b",
        r"which product \1 the most of",
    ),
    # "what cities in germany do we have customers in?", "which countries are our buyers from":
    # the places the rows fall in, one row per place
    (
        r"^(?:in )?(?:what|which) (cities|countries|categories)\b(.*?) (?:do|does|did) "
        r"(?:we|you|the (?:store|shop|company)) (?:have|sell|get) (?:any )?(customers|clients|"
        r"buyers|products|orders)(?: in| from)?\W*$",
        r"\3 by \1\2",
    ),
    (
        r"^(?:in )?(?:what|which) (cities|countries) (?:are|were|do|did) (?:our|the|all|my) "
        r"(customers|clients|buyers)(?: (?:live|come|based|located|from|in))+\W*$",
        r"\2 by \1",
    ),
    (r"\b(?:quarter to date|qtd)\b", "this quarter"),
    # "since the start of the year", "from the beginning of this month": the period to date
    (
        r"\b(?:since|from) (?:the )?(?:start|beginning) of (?:the|this) "
        r"(year|month|quarter|week)\b",
        r"this \1",
    ),
    # "which of those should have arrived by now?": past the promised date, not delivered
    (
        r"\b(?:should|ought to|were supposed to|was supposed to) (?:have )?(?:arrived|been "
        r"delivered|come|landed|got there)(?: by now| already| yet)?\b",
        "overdue",
    ),
    # "customers who placed at least one order": who placed an order (no count to compare)
    (
        r"\b(placed|made|ordered|with|had|have|has|got|bought|purchased) at least (?:one|1|a "
        r"single) (order|purchase|item|product)s?\b",
        r"\1 an \2",
    ),
    # "average basket value", "cart size": what one order is worth
    (r"\b(?:basket|cart) (?:value|size|total)\b", "order value"),
    # "... - need them for a win-back campaign": why they ask, not what
    (r"\s*(?:-|,|;)?\s*(?:i |we )?need (?:it|them|this|these|those|the list) for\b.*$", ""),
    # "revenue rather than units", "units instead of revenue": the measure named first
    (
        r"\b(?:rather than|instead of) (?:by )?(?:the )?(?:number of |count of |total )?[a-z]+\b",
        "instead",
    ),
    # "for the ops review: ..." (a lead-in), unless it compares ("for a Germany vs France push:")
    (r"^for (?:the |my |our |a |an )?(?![a-z ]*\b(?:vs|versus)\b)[a-z ]{2,40}: ", ""),
    # "for a Germany vs France campaign: ...": the purpose goes, the compared values stay
    (
        r"^for (?:the |my |our |a |an )?([a-z ]{2,30}?) (?:vs|versus) ([a-z ]{2,30}?) "
        r"(?:campaign|push|review|report|meeting|deck|analysis|comparison|promo|promotion): ",
        r"\1 and \2: ",
    ),
    # "whose expected delivery date has already passed", "with the due date in the past"
    (
        r"\b(?:whose |where the |with (?:the |a |an |their |its )?|that have (?:a |an |their )?)?"
        r"(?:expected|promised|estimated|due|scheduled) (?:delivery |arrival )?(?:date|day)s? "
        r"(?:that |which )?(?:has |have |had |is |was |are |were )?(?:already |now )?"
        r"(?:passed|gone by|gone past|"
        r"lapsed|expired|been missed|in the past(?! (?:\w+ )?(?:days?|weeks?|months?|years?|"
        r"quarters?)\b))\b",
        "overdue",
    ),
]

# Verbs whose "by" names who did it ("placed by a customer"), not a grouping.
AGENT_VERBS = {
    "placed",
    "ordered",
    "bought",
    "purchased",
    "made",
    "sold",
    "shipped",
    "delivered",
    "canceled",
    "cancelled",
    "returned",
    "sent",
    "done",
}


MONEY_WORDS = {
    "revenue",
    "sale",
    "sales",
    "turnover",
    "income",
    "earning",
    "earnings",
    "spend",
    "spent",
    "spending",
    "spender",  # "biggest spenders": customers by spend
    "money",
    "gmv",
}
UNIT_WORDS = {
    "unit",
    "quantity",
    "popular",
    "bestseller",
    "bestselling",
    "copy",
    "copies",
    "piece",
    "pieces",
}
# "how many <product / category / products> did we sell": units (sum of quantity), not orders.
UNITS_SOLD = re.compile(
    r"\b(?:how many|number of) (?:the |our )?(?:VALUE |product |copy |copie )+"
    r"(?!(?:customer|buyer|client|shopper|people|user) )"  # "how many VALUE customers": people
    r"(?:\w+ ){0,4}?"
    r"(?:sold|sell|bought|buy|purchased|ordered)\b"
)
# "best/worst selling", "slowest movers", "top sellers", "sold the most": units sold.
SELLING = re.compile(
    r"\b(?:best|top|most|least|worst|lowest|highest|poorest|weakest|fastest|slowest|biggest"
    r"|strongest) (?:\d+ )?(?:selling|seller|mover|moving)\b"
    r"|\b(?:sold|sell|sells|selling|moved|move) the (?:most|least|fewest|best|worst)\b"
    r"|\b(?:bought|buy|ordered|order|purchased|purchase|got) the (?:most|least|fewest) of\b"
)
SELLING_WORDS = ("selling", "seller", "mover", "moving", "sold", "popular")
AVG_WORDS = {"average", "avg", "mean", "typical"}
# "did any customer from Italy cancel ...?", "is any of my orders in transit?", "has anybody
# ordered ...?", "is there an order ...?", "were there any ...?", "has Ava Lee ever ordered?",
# "have any of my orders ever ...?", "do we have customers in ...?": whether one exists,
# answered by the count of matching rows.
# A plural partitive without "ever" ("were any of my orders late?", "did any of my orders ...")
# asks which ones: the rows.
EXISTENCE = re.compile(
    r"^(?:and |so |but |then )?(?:(?:did|does|do|is|was|were|are|has|have|had) (?:there )?"
    r"(?:any|anyone|anybody|someone|somebody)\b(?! of\b)"
    r"|(?:is|was|has|does) (?:any|anyone|anybody) of\b"
    r"|(?:is|are|was|were) there (?:an?|some)\b"
    r"|(?:has|have|had|did|does|do) (?:\w+ ){1,6}ever\b"
    # "do we have customers in Osaka?", "does the shop have any products under $5?"
    r"|(?:do|does|did) (?:we|you|the (?:store|shop|company)) (?:have|has|had) (?:any )?"
    r"(?:customers?|clients?|orders?|products?|items?|buyers?)\b)"
)
# A question answered yes or no: "did we ...", "was revenue ...".
YES_NO_START = re.compile(
    r"^(?:and |so |but |then )?(?:did|do|does|is|was|were|are|has|have|had)\b"
)
# "did we make over $1k", "have we earned more than 5000": money taken in, compared.
MONEY_VERBS = (
    r"\b(?:make|made|earn|earned|gross|grossed|generate|generated|bring in|brought in|take in|"
    r"took in|taken in) AMOUNT\d"
)
# "orders so far this quarter?": a running tally of what is named.
TALLY = r"\bso far\b"
COUNT_WORDS = r"\b(?:how many|number of|count|what number|total number|tally|headcount)\b"
TOTAL_VALUE = (
    r"\b(?:total|sum|combined|overall|aggregate) (?:of |the )?"
    r"(?:value|amount|order total|worth|order value|spend)|\bsum of\b|"
    r"\btotal (?:order )?value\b|\bthe total\b|\btotal$"
)
# "the highest order total", "the lowest price": (aggregate, superlative pattern).
EXTREMES = (
    ("max", r"\b(?:highest|max|maximum|largest|biggest)\b"),
    ("min", r"\b(?:lowest|min|minimum|smallest)\b"),
)
MOST = {
    "most",
    "highest",
    "top",
    "best",
    "biggest",
    "largest",
    "busiest",
    "greatest",
    "maximum",
    "max",
    "more",
    "priciest",
    "fastest",
    "strongest",
    "bestseller",
}
LEAST = {
    "least",
    "fewest",
    "lowest",
    "bottom",
    "worst",
    "smallest",
    "minimum",
    "min",
    "quietest",
    "slowest",
    "cheapest",
    "poorest",
    "weakest",
}
RECENT = {"latest", "newest", "recent", "recently", "last", "youngest"}
EARLIEST = {"earliest", "oldest", "first"}
PRICE_UP = {"expensive", "priciest", "costliest", "pricey"}
PRICE_DOWN = {"cheapest", "cheap", "inexpensive"}
LIST_WORDS = {
    "list",
    "show",
    "which",
    "what",
    "who",
    "find",
    "display",
    "give",
    "get",
    "see",
    "look",
    "fetch",
    "tell",
}
# Customers or products with no orders at all.
NEVER = (
    r"\bnever\b|\bno (?:\w+ )?orders?\b|\bwithout (?:any )?(?:\w+ )?(?:orders?|sales)\b|"
    r"\bnobody\b|\bno one\b|\bunsold\b|\bno sales?\b|"
    r"\b(?:not|never) (?:yet |ever )?(?:been )?(?:placed|made|sold|ordered|bought|purchased)\b|"
    r"\b(?:not|never) (?:have|had|has|got) (?:any |an |a single )?orders?\b|"
    r"\b(?:did|do|does) not (?:yet |ever |even )?(?:place|make|order|buy|purchase|sell)\b"
)

# Words the grammar reads: never taken for a typo of another word.
KNOWN_WORDS = frozenset(
    [*VOCABULARY, *DATE_VERBS, *STATUS_VERBS, *ENTITY_WORDS, *ATTRIBUTE_WORDS, *GRAIN_WORDS]
    + [*MONEY_WORDS, *UNIT_WORDS, *AVG_WORDS, *MOST, *LEAST, *RECENT, *EARLIEST, *PRICE_UP]
    + [*PRICE_DOWN, *LIST_WORDS, *AGENT_VERBS, *MONTH_WORDS, *NUMBER_WORDS, *GROUP_SKIP]
)


def negated(before: str) -> bool:
    """Whether the (up to) three words before something negate it: "not shipped", "except"."""
    tail = " ".join(before.split()[-3:])
    return any(re.search(rf"\b{n}\b", tail) for n in NEGATIONS)
