"""Data loading, honest held-out splits, synthesis and augmentation.

Every split is a pure function of the data and fixed seeds/hashes, so
``make models`` reproduces it exactly.
"""
from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
import random
import re
import zipfile
from typing import Dict, Iterable, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(TRAINING_DIR)
DATA = os.path.join(TRAINING_DIR, "data")
HELDOUT = os.path.join(DATA, "heldout")
CATALOG_GLOB = os.path.join(REPO, "demodata", "icecat", "*.json.zip")

BITEXT_INTENTS = [
    "cancel_order", "change_order", "change_shipping_address", "check_cancellation_fee",
    "check_invoice", "check_payment_methods", "check_refund_policy", "complaint",
    "contact_customer_service", "contact_human_agent", "create_account", "delete_account",
    "delivery_options", "delivery_period", "edit_account", "get_invoice", "get_refund",
    "newsletter_subscription", "payment_issue", "place_order", "recover_password",
    "registration_problems", "review", "set_up_shipping_address", "switch_account",
    "track_order", "track_refund",
]
EXTRA_INTENTS = ["product_search", "greeting", "goodbye", "thanks", "out_of_scope", "recommend"]
# (recommend was added last so the ids of the first 32 labels did not move)
LABELS = BITEXT_INTENTS + EXTRA_INTENTS
OOS = "out_of_scope"

# CLINC150 intents mapped onto ours.
CLINC_MAP = {"greeting": "greeting", "goodbye": "goodbye", "thank_you": "thanks"}
# Shop-like / dialog-control CLINC intents: ambiguous for a shop, so they are
# neither trained as out_of_scope nor used in the CLINC evaluation file.
CLINC_EXCLUDE = {
    "order_status", "order", "shopping_list", "shopping_list_update", "card_declined",
    "cancel", "what_can_i_ask_you", "change_user_name", "user_name", "account_blocked",
    "yes", "no", "maybe", "repeat",
}

STOP = set("""a an the i i'm im me my mine we our you your yours it its is are was were be been being am
to of in on at for from with by about as into over under do does did done doing have has had
can could would will shall should may might must please pls plz help need want wanna like know
how what where when why which who whom that this these those there here some any all and or but
if so not no don't dont can't cant cannot i'd id i'll ill i've ive let lets let's just get got
tell show give find see check look looking way ways assistance assist info information
me? you? it? want? hey hi hello ok okay thanks thank""".split())


def _h(s: str) -> int:
    return int(hashlib.md5(s.encode("utf-8")).hexdigest()[:8], 16)


def _content_key(utt: str) -> str:
    words = re.findall(r"[a-z0-9']+", utt.lower())
    content = sorted({w for w in words if w not in STOP})
    return " ".join(content)


def read_bitext() -> List[Tuple[str, str]]:
    with open(os.path.join(DATA, "bitext_customer_service_8k.csv"), encoding="utf-8") as f:
        return [(r["utterance"].strip(), r["intent"]) for r in csv.DictReader(f)]


def split_bitext(holdout_pct: int = 15, mode: str = "grouped", val_pct: int = 0):
    """Grouped split: hold out whole content-word sets (an utterance and all
    its near-paraphrases that differ only in function words, politeness or
    word order go to the same side). ``mode='random'`` for comparison."""
    rows = read_bitext()
    train, held, val = [], [], []
    rnd = random.Random(13)
    for u, y in rows:
        if mode == "grouped":
            k = _h(y + "|" + _content_key(u)) % 100
        else:
            k = rnd.randrange(100)
        if k < holdout_pct:
            held.append((u, y))
        elif k < holdout_pct + val_pct:
            val.append((u, y))
        else:
            train.append((u, y))
    if val_pct:
        return train, val, held
    return train, held


def read_clinc():
    with open(os.path.join(DATA, "clinc150_train_val.json"), encoding="utf-8") as f:
        return json.load(f)


def clinc_label(intent: str):
    if intent == "oos":
        return OOS
    if intent in CLINC_EXCLUDE:
        return None
    return CLINC_MAP.get(intent, OOS)


def read_wands() -> List[Tuple[str, str]]:
    with open(os.path.join(DATA, "wands_queries_dev.csv"), encoding="utf-8") as f:
        return [(r["query"].strip(), r["query_class"]) for r in csv.DictReader(f)]


def split_wands(holdout_pct: int = 30):
    """Hold out whole query_class groups."""
    train, held = [], []
    for q, c in read_wands():
        (held if _h("wands|" + c) % 100 < holdout_pct else train).append(q)
    return train, held


def read_judgment_queries() -> List[str]:
    with open(os.path.join(DATA, "icecat_judgments_dev.csv"), encoding="utf-8") as f:
        return sorted({r["query"].strip() for r in csv.DictReader(f)})


def read_catalog() -> List[dict]:
    out = []
    for path in sorted(glob.glob(CATALOG_GLOB)):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                for p in json.load(z.open(name)):
                    out.append({k: p.get(k) for k in ("title", "name", "short_description", "supplier", "price",
                                                      "attr_t_product_colour", "attr_t_type", "attr_t_product_type")})
    return out


def catalog_texts(products: List[dict]) -> Iterable[str]:
    for p in products:
        for k in ("title", "name", "short_description", "supplier"):
            v = p.get(k)
            if isinstance(v, str) and v.strip():
                yield v


# ---------------------------------------------------------------- held-out files

def write_heldout():
    os.makedirs(HELDOUT, exist_ok=True)
    _, bh = split_bitext()
    _write_csv(os.path.join(HELDOUT, "bitext_heldout.csv"), bh)
    _, bh_r = split_bitext(mode="random")
    _write_csv(os.path.join(HELDOUT, "bitext_random_heldout.csv"), bh_r)
    _, wh = split_wands()
    rows = [(q, "product_search") for q in wh] + [(q, "product_search") for q in read_judgment_queries()]
    _write_csv(os.path.join(HELDOUT, "product_queries_heldout.csv"), rows)
    # the same rows by source, for the breakdown in the README
    _write_csv(os.path.join(HELDOUT, "product_queries_heldout_wands.csv"), [(q, "product_search") for q in wh])
    _write_csv(os.path.join(HELDOUT, "product_queries_heldout_icecat.csv"),
               [(q, "product_search") for q in read_judgment_queries()])
    c = read_clinc()
    rows = []
    for u, i in c["val"] + c["oos_val"]:
        y = clinc_label(i)
        if y is not None:
            rows.append((u, y))
    _write_csv(os.path.join(HELDOUT, "clinc_val.csv"), rows)
    _write_csv(os.path.join(HELDOUT, "recommend_heldout.csv"), recommend_heldout_rows())


def _write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["utterance", "intent"])
        for u, y in rows:
            w.writerow([u, y])


def read_eval_csv(path) -> List[Tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        return [(r["utterance"], r["intent"]) for r in csv.DictReader(f)]


# ---------------------------------------------------------------- product queries

FURNITURE = """sofa|sectional|loveseat|couch|futon|sleeper sofa|recliner|accent chair|armchair|rocking chair|
glider|ottoman|pouf|bench|storage bench|coffee table|end table|side table|console table|sofa table|
tv stand|media console|entertainment center|bookcase|bookshelf|ladder shelf|floating shelves|wall shelf|
dining table|kitchen table|dining chairs|bar stools|counter stools|kitchen island|bar cart|buffet|sideboard|
china cabinet|bed|bed frame|platform bed|canopy bed|bunk bed|loft bed|daybed|trundle bed|headboard|
mattress|memory foam mattress|box spring|crib|changing table|dresser|chest of drawers|nightstand|
armoire|wardrobe|vanity|bathroom vanity|makeup vanity|desk|writing desk|standing desk|office chair|
gaming chair|filing cabinet|storage cabinet|shoe rack|coat rack|hall tree|entryway bench|room divider|
area rug|runner rug|outdoor rug|bath mat|doormat|curtains|blackout curtains|curtain rod|blinds|
throw pillows|accent pillows|throw blanket|comforter|duvet cover|quilt|bed sheets|pillowcases|
wall art|canvas wall art|framed print|wall mirror|floor mirror|wall clock|wall decor|metal wall decor|
kids wall decor|vase|candle holder|picture frame|artificial plant|planter|chandelier|pendant light|
flush mount ceiling light|ceiling fan|floor lamp|table lamp|desk lamp|wall sconce|vanity light|
outdoor wall light|string lights|patio furniture|outdoor conversation set|patio dining set|adirondack chair|
hammock|porch swing|outdoor sofa|patio umbrella|fire pit|gazebo|grill|lounge chair|chaise lounge|
kitchen faucet|bathroom sink faucet|shower head|bathtub|toilet|medicine cabinet|towel bar|towel rack|
cabinet pulls|drawer pulls|cabinet knobs|door knob|floor tile|wall tile|backsplash tile|wallpaper|
peel and stick wallpaper|cookware set|dutch oven|frying pan|knife set|dinnerware set|coffee maker|
toaster|blender|stand mixer|microwave|refrigerator|dishwasher|washer|dryer|vacuum|air purifier|
humidifier|space heater|storage baskets|laundry hamper|closet organizer|dog bed|cat tree|
kids table and chairs|toy box|playhouse|swing set|massage chair|salon chair|jewelry armoire|
wine rack|bakers rack|pantry cabinet|mailbox|garden bench|raised garden bed|shed|fence|
light fixture|lamp shade|mirror|rug|lamp|chair|table|cabinet|shelf|stool|clock|pillow|blanket"""
ELECTRONICS = """laptop|gaming laptop|notebook|chromebook|tablet|android tablet|ipad|smartphone|iphone|
phone case|phone charger|usb c charger|power bank|external battery|wireless headphones|earbuds|
bluetooth headphones|headset|gaming headset|bluetooth speaker|soundbar|surround sound speakers|
smart tv|4k tv|monitor|gaming monitor|curved monitor|keyboard|mechanical keyboard|wireless mouse|
gaming mouse|mouse pad|webcam|microphone|printer|laser printer|inkjet printer|ink cartridge|
toner cartridge|scanner|projector|projector screen|router|wifi extender|network switch|ethernet cable|
hdmi cable|usb cable|usb hub|docking station|external hard drive|ssd|memory card|sd card|usb stick|
flash drive|laptop bag|laptop sleeve|laptop backpack|camera bag|camera|digital camera|video camera|
tripod|smart watch|fitness tracker|gaming console|game controller|nintendo switch|ps5|xbox|
graphics card|processor|ram|motherboard|power supply|computer case|desktop computer|all in one pc|
ups battery backup|surge protector|extension cord|batteries|aa batteries|calculator|label maker|
shredder|paper|envelopes|stapler|pens|notebook paper|whiteboard|office supplies|toner|ink|cable"""
APPAREL = """jeans|t-shirt|dress|sundress|maxi dress|skirt|blouse|sweater|cardigan|hoodie|sweatshirt|
jacket|rain jacket|winter coat|puffer jacket|leather jacket|blazer|suit|dress shirt|polo shirt|
shorts|leggings|yoga pants|joggers|pajamas|socks|underwear|bra|swimsuit|bikini|sneakers|running shoes|
boots|ankle boots|sandals|heels|loafers|slippers|hat|beanie|baseball cap|scarf|gloves|belt|
backpack|handbag|tote bag|wallet|sunglasses|watch|necklace|earrings|ring|bracelet|umbrella|
kids shoes|baby clothes|onesie|school uniform|costume|vans|nike shoes|rain boots"""
HOME_MORE = """slow cooker|pressure cooker|instant pot|air fryer|rice cooker|food processor|juicer|kettle|electric kettle|
espresso machine|waffle maker|toaster oven|mixing bowls|cutting board|butcher block|butcher block island|
kitchen cart|spice rack|utensil holder|dish rack|drying rack|paper towel holder|trash can|recycling bin|
lunch bag|lunch box|water bottle|travel mug|coffee mugs|wine glasses|flatware set|serving tray|cake stand|
tablecloth|placemats|table runner|napkins|apron|oven mitts|tea towels|shower curtain|clear shower curtain|
shower caddy|bath towels|hand towels|bath rug|toilet paper holder|soap dispenser|toothbrush holder|
bathroom shelf|over the toilet storage|laundry basket|ironing board|steam iron|clothes hanger|
garment rack|shoe storage|under bed storage|storage bins|storage ottoman|blanket ladder|magazine rack|
umbrella stand|key holder|wall hooks|coat hooks|floating shelf|corner shelf|cube storage|bookends|
solar lights|solar path lights|landscape lighting|flood light|motion sensor light|led strip lights|
fairy lights|night light|lantern|outdoor lantern|porch light|post light|track lighting|recessed lighting|
light bulbs|smart bulbs|dimmer switch|ceiling medallion|candles|scented candles|diffuser|wreath|
christmas tree|ornaments|garland|pumpkin decor|easter decor|fake flowers|succulents|bonsai|terrarium|
garden hose|hose reel|lawn mower|leaf blower|weed eater|garden tools|wheelbarrow|planter box|
bird feeder|bird bath|fountain|outdoor fountain|patio heater|fire table|outdoor bar stools|
outdoor dining table|deck box|pergola|shade sail|outdoor cushions|outdoor pillows|swing|
propane grill|charcoal grill|smoker|pizza oven|cooler|picnic table|camping tent|sleeping bag|
gas dryer|propane gas dryer|electric dryer|washing machine|chest freezer|mini fridge|wine fridge|
range hood|hood vent|stove|gas range|cooktop|wall oven|garbage disposal|water heater|water filter|
air conditioner|window ac|dehumidifier|fan|tower fan|box fan|thermostat|smoke detector|doorbell camera|
security camera|smart lock|deadbolt|door handle|barn door|sliding barn door hardware|interior door|
french doors|storm door|window film|shutters|valance|tension rod|drapes|sheer curtains|
crib mattress|baby gate|high chair|stroller|car seat|baby monitor|diaper bag|play mat|rocking horse|
kids bed|toddler bed|kids desk|kids rug|kids bookshelf|toy storage|dollhouse|lego|puzzle|board game|
stuffed animal|teddy bear|dinosaur toy|ride on toy|trampoline|basketball hoop|bike|helmet|
yoga mat|dumbbells|treadmill|exercise bike|weight bench|punching bag|golf clubs|tennis racket|
dog crate|dog leash|cat litter box|pet bed|fish tank|bird cage|pet gate|
hair dryer|hair straightener|curling iron|electric toothbrush|razor|makeup mirror|lighted mirror|
jewelry box|watch box|makeup organizer|perfume|lotion|shampoo|
wall clock|grandfather clock|alarm clock|desk organizer|file organizer|bulletin board|cork board|
chalkboard|easel|art supplies|sewing machine|craft table|piano bench|guitar stand|record player|
turntable|vinyl records|karaoke machine|speaker stand|tv wall mount|monitor arm|cable management|
tool box|drill|cordless drill|ladder|step stool|workbench|pegboard|safe|fireproof safe|
bar stool|swivel chair|accent table|nesting tables|lift top coffee table|storage bed|murphy bed|
futon mattress|bean bag chair|floor cushion|kneeling chair|vanity stool|bathroom cabinet|linen cabinet|
headboard only|upholstered bed|sleigh bed|four poster bed|metal bed frame|hallway runner|stair treads|
faux fur rug|jute rug|shag rug|persian rug|round rug|washable rug|outdoor curtains|
mosaic tile|subway tile|vinyl flooring|laminate flooring|hardwood flooring|carpet tiles|grout|paint|
chalk paint|wall stencil|wall decals|tapestry|macrame wall hanging|metal wall art|abstract art|
map print|photo frame collage|shadow box|wall sculpture|clock decor|mirror set|
"""
MODIFIERS = """black|white|grey|gray|blue|navy|red|green|pink|beige|brown|gold|silver|teal|turquoise|
yellow|orange|purple|cream|ivory|wood|wooden|oak|walnut|metal|glass|marble|leather|velvet|linen|
cotton|wool|rattan|wicker|bamboo|modern|mid century modern|farmhouse|rustic|industrial|boho|
vintage|contemporary|traditional|coastal|minimalist|small|large|extra large|tall|round|square|
rectangular|oval|queen|king|twin|full|kids|outdoor|indoor|waterproof|wireless|portable|foldable|
adjustable|ergonomic|cheap|affordable|luxury|cute|comfortable|durable|lightweight|heavy duty|
2 pack|set of 4|60 inch|15 inch|15.6 inch|27 inch|32 inch|4 ft|5x7|8x10|usb-c|bluetooth|4k|1tb|16gb"""
BRANDS_EXTRA = """ikea|wayfair|ashley|nike|adidas|levi's|samsung|apple|sony|lg|dell|hp|lenovo|asus|acer|
logitech|canon|epson|brother|bose|jbl|anker|philips|dyson|kitchenaid|cuisinart|keurig"""

PRODUCT_TEMPLATES = """{x}|{x}|{x}|{x}s|{m} {x}|{m} {x}|{x} {m}|{b} {x}|{m} {m2} {x}|
do you have {x}?|do you have any {x}s|do you sell {x}?|do you guys carry {x}|do you stock {b} {x}?|
do you have a {m} {x}?|have you got {x}s in stock|is the {b} {x} available?|are there any {m} {x}s|
i'm looking for a {x}|looking for {m} {x}|looking for a {x} under ${p}|i am looking for {x}s for my {r}|
i need a {x}|i need a new {x}|need {m} {x}|i want a {m} {x}|i want to buy a {x}|i'd like to buy a {b} {x}|
i'd like a {x} for my {r}|show me {x}s|show me {m} {x}s under ${p}|can you show me some {x}s|
find me a {x}|find {m} {x}|search for {x}|search {b} {x}|recommend a {x}|can you recommend a good {x}?|
what {x}s do you have|which {x} is best for {use}|best {x} for {use}|best {x}|top rated {x}|
cheap {x}|cheapest {x}|{x} on sale|{x} deals|discount {x}|{x} under ${p}|{x} under {p} dollars|
{x} less than ${p}|{x} between ${p} and ${p2}|{m} {x} under ${p}|{x} for {use}|{x} for {r}|
{x} with {f}|{m} {x} with {f}|where can i find {x}s|where can i find a {m} {x}|
how much is the {b} {x}|how much does a {x} cost|price of {b} {x}|what's the price of the {x}|
any good {x}s?|got any {m} {x}s?|i'm shopping for a {x}|shopping for {m} {x}|gift ideas {x}|
a {x} as a gift for my {who}|{x} for my {who}|something like a {m} {x}|compare {x}s|
i'm after a {m} {x}|hunting for a {x}|{x} in {m}|{x} size {sz}|{b} {x} {m}|new {x}|{x} replacement|
{b}|{b} products|what {b} {x}s do you have|do you have {b}?"""
USES = "gaming|work|travel|school|kids|a small apartment|the living room|outdoors|running|a wedding|the office|college|a home office|photography|music|camping|winter|summer|a beach trip"
ROOMS = "living room|bedroom|kitchen|bathroom|office|patio|nursery|dorm|garage|dining room|entryway|basement"
FEATURES = "storage|drawers|usb ports|wheels|a remote|noise cancelling|long battery life|a cover|cushions|arms|backlight|a stand|free shipping"
WHO = "wife|husband|son|daughter|mom|dad|kids|friend|boss|grandma|teenager|baby"
SIZES = "s|m|l|xl|10|8|42|large|small|medium"


def _split(s: str) -> List[str]:
    return [x.strip() for x in s.replace("\n", "").split("|") if x.strip()]


EDGE_STOP = set("for the a an and or with in of on to by from at per x w/ incl including without up".split())
_CODE = re.compile(r"[0-9]")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]|[A-Za-z]")


def catalog_phrases(products: List[dict], rng: random.Random) -> Tuple[List[str], List[str]]:
    """Noun-phrase-like chunks from titles (codes, brands and numbers removed),
    plus the brand list."""
    phrases, brands = [], set()
    for p in products:
        title = (p.get("title") or "")
        sup = (p.get("supplier") or "").strip()
        if sup:
            brands.add(sup)
        name = (p.get("name") or "")
        toks = []
        for t in title.replace("(", " ").replace(")", " ").replace(",", " ").split():
            if t.lower() == sup.lower() or t in name.split() and _CODE.search(t):
                continue
            if _CODE.search(t) or not _WORD.fullmatch(t) or len(t) > 20:
                if toks:
                    toks.append("|")
                continue
            toks.append(t.lower())
        chunks = []
        for c in " ".join(toks).split("|"):
            c = c.split()
            while c and c[0] in EDGE_STOP:
                c = c[1:]
            while c and c[-1] in EDGE_STOP:
                c = c[:-1]
            if c:
                chunks.append(c)
        for c in chunks[:2]:
            n = min(len(c), rng.choice([1, 2, 2, 3, 3, 4]))
            start = rng.randrange(0, len(c) - n + 1) if rng.random() < 0.3 else 0
            phrases.append(" ".join(c[start:start + n]))
        for k in ("attr_t_type", "attr_t_product_type"):
            v = p.get(k)
            if isinstance(v, str) and 2 < len(v) < 30 and not _CODE.search(v):
                phrases.append(v.lower())
    return phrases, sorted(brands)


def catalog_ngrams(products: List[dict], rng: random.Random, n: int) -> List[str]:
    """Bare 1-3 word spans (no codes/numbers) from anywhere in titles and
    descriptions: teaches that a bare noun phrase is a product query even
    with words never seen in a template."""
    out = []
    texts = [p.get("title") or "" for p in products] + [p.get("short_description") or "" for p in products
                                                         if isinstance(p.get("short_description"), str)]
    while len(out) < n:
        t = rng.choice(texts)
        w = [x.lower() for x in re.findall(r"[A-Za-z][A-Za-z'\-]+", t) if not _CODE.search(x)]
        w = [x for x in w if len(x) > 2]
        if not w:
            continue
        k = rng.choice([1, 2, 2, 3])
        i = rng.randrange(0, max(1, len(w) - k + 1))
        span = w[i:i + k]
        while span and span[0] in EDGE_STOP:
            span = span[1:]
        while span and span[-1] in EDGE_STOP:
            span = span[:-1]
        if span:
            out.append(" ".join(span))
    return out


def synth_product_queries(products: List[dict], wands_train: List[str], n: int, seed: int = 7,
                          mlm_v1: bool = False) -> List[str]:
    """mlm_v1: the first, smaller generator (no HOME_MORE nouns, class names or
    bare n-grams); the MLM text of the committed model was built with it."""
    rng = random.Random(seed)
    cat_phr, cat_brands = catalog_phrases(products, rng)
    hand = _split(FURNITURE) + _split(ELECTRONICS) + _split(APPAREL)
    if not mlm_v1:
        hand += _split(HOME_MORE)
        hand += sorted({c.lower() for q, c in read_wands() if q in set(wands_train)})  # train query classes only
    mods = _split(MODIFIERS)
    brands = [b.lower() if rng.random() < 0.7 else b for b in cat_brands] + _split(BRANDS_EXTRA)
    temps = _split(PRODUCT_TEMPLATES)
    uses, rooms, feats, who, sizes = map(_split, (USES, ROOMS, FEATURES, WHO, SIZES))
    out = [] if mlm_v1 else catalog_ngrams(products, rng, 3000)
    # real shopper queries first (bare, and a couple of sentence wraps each)
    for q in wands_train:
        out.append(q)
    for _ in range(n):
        r = rng.random()
        if r < 0.40:
            x = rng.choice(hand)
        elif r < 0.75:
            x = rng.choice(cat_phr)
        else:
            x = rng.choice(wands_train) if wands_train else rng.choice(hand)
        t = rng.choice(temps)
        p = rng.choice([10, 15, 20, 25, 30, 40, 49.99, 50, 75, 99, 100, 150, 200, 250, 300, 500, 1000])
        s = t.format(x=x, m=rng.choice(mods), m2=rng.choice(mods), b=rng.choice(brands),
                     p=p, p2=p * 2, use=rng.choice(uses), r=rng.choice(rooms), f=rng.choice(feats),
                     who=rng.choice(who), sz=rng.choice(sizes))
        s = s.replace("ss ", "s ").replace("ys ", "ys ")
        out.append(s)
    return out


# ---------------------------------------------------------------- small talk

GREETINGS = """hi|hello|hey|hey there|hi there|hello there|good morning|good afternoon|good evening|
howdy|yo|hiya|greetings|morning|hey hey|hi!|hello!|hey, how are you?|hi, how's it going|
hello, is anyone there?|hi there, i need some help|hey bot|hello shop|good day|what's up|sup|
hi, nice to meet you|hey, how are you doing today|hello hello|hi again|heya|hallo|hola|bonjour|
hi team|hey assistant|good morning!|evening|afternoon|hey, you there?"""
GREETINGS_MORE = """whats up|wazzup|what's going on|
how are you|how are you doing|how are you today|how's your day|how's your day going|how have you been|
how do you do|nice to see you|long time no see|good to see you|hey what's new|yo what's good|
hello, how are you doing|hi, how are things|anyone here?|is someone there|greetings to you|
top of the morning|hey, good to talk to you again|hi, i'm back|hello friend|hey pal"""
GOODBYES = """bye|goodbye|bye bye|see you|see you later|see ya|talk to you later|ttyl|cya|later|
have a nice day|have a good one|take care|good night|i'm done, bye|that's all, bye|gotta go|
i have to go now|catch you later|farewell|until next time|bye for now|ok bye|okay goodbye|
that will be all, goodbye|i'm leaving now|signing off|see you soon|so long|peace out|
nothing else, bye|we're done here, bye|have a great weekend|good bye|byee"""
GOODBYES_MORE = """goodnight|night night|have a nice evening|have a wonderful day|enjoy your day|it was nice talking to you|
nice chatting with you|i enjoyed our chat|talk soon|see you next time|i'm off|i'm heading out|
that's it for today|i'll be going now|i'm signing out|i need to go, bye|adios|ciao|au revoir|cheerio"""
THANKS = """thanks|thank you|thanks a lot|thank you so much|thx|ty|tysm|many thanks|much appreciated|
thanks for your help|thank you for the help|thanks, that helps|cheers|great, thanks|perfect, thank you|
awesome thanks|thanks a bunch|thank you very much|appreciate it|i appreciate your help|
thanks for the info|thanks!|thank you!!|ok thanks|okay thank you|that was helpful, thanks|
you've been very helpful|thanks mate|thanks so much for your assistance|great help, thanks|
thank u|thanx|thnks|that's great, thank you|much obliged|thanks buddy|thank you kindly"""
THANKS_MORE = """i'm grateful|i am so grateful for your help|my gratitude|many thanks to you|thanks a million|
i really appreciate that|i'm glad you helped me|i'm happy with your help|you're a lifesaver|
you're the best, thanks|big thanks|thanks heaps|that's very kind of you|kudos, thanks|
thank you for everything|thanks for helping me out|nice, that's what i needed, thanks"""


# ---------------------------------------------------------------- recommend + more small talk
#
# `recommend`: the shopper asks for a suggestion without naming a product ("what
# would you recommend?", "surprise me", "what's popular right now", "anything like
# the last one I viewed?"); the chat answers it from the shopper's behaviour profile.
# Requests that name a product ("can you recommend a good gaming mouse") stay
# product_search: RECOMMEND_PRODUCT_TEMPLATES teaches that contrast.
# Whole templates are held out: a template whose md5 bucket (% 100) is < 25 is never
# used for training and only feeds training/data/heldout/recommend_heldout.csv.
# None of these lists is used for the vocabulary, MLM pre-training or golden tokens.

RECOMMEND_TEMPLATES = """what would you recommend|what would you recommend for me|what do you recommend|
what do you suggest|what would you suggest|any suggestions for me|any suggestions|any recommendations|
got any recommendations for me|do you have any recommendations|can you recommend something|
could you recommend me something|recommend me something|recommend something for me|suggest something|
suggest something i might like|give me some suggestions|give me a recommendation|i need a recommendation|
i'd like some recommendations|what's popular right now|what is trending|what's trending at the moment|
what are people buying these days|what's hot right now|what are your best sellers|show me your bestsellers|
what's your top pick|what are your top picks for me|show me something similar to what i looked at|
anything like the last one i viewed|something similar to the last item i viewed|
show me more like what i was looking at|more like the ones i looked at earlier|
based on what i viewed, what else would i like|what else might i like|what should i buy|what should i get|
what should i order next|i don't know what to buy, help me choose|i'm not sure what i want, any ideas|
surprise me|show me something nice|pick something for me|what do you think i'd like|
recommendations based on my history|personalized recommendations|show me recommendations|
what would you pick for me|inspire me|any ideas what i should get|what's good here|what's new and popular|
show me popular items|show me what other shoppers like|what do other customers buy|
what are the most popular products|based on my browsing, what do you suggest|
what goes well with what i bought|recommend me stuff|what do you have that i'd love|
show me things i might like|i'm bored, show me something cool|what's everyone buying|
similar items to what i viewed|find me something like my last purchase|your recommendations please|
what's the best thing you sell|help me pick something|what should i treat myself to|
recommend something based on my past orders|what would you suggest based on what i've bought before|
suggestions based on my purchase history|based on my previous orders, what should i get|
what do you think i should buy next|what should i get next|what else should i buy|
show me items like the ones i bought|something like what i ordered last time|more like my last order|
show me stuff similar to my recent views|items related to what i've been browsing|
recommend something based on my taste|what would suit me|what are other people buying|
what are shoppers buying right now|what's selling well|what's the most popular thing right now|
what are customers loving lately|show me trending products|anything you think i'd like|got anything for me|
what do you have for me today|what would you buy if you were me|help me find something i'd like|
i need ideas for what to buy|give me some ideas|picks for me based on my activity|
what matches my style|what did people like me buy|what would go with my last order"""
REC_PRE = ["", "", "", "hi, ", "hey ", "hello! ", "ok so ", "um ", "so ", "hmm, ", "please ", "could you tell me "]
REC_POST = ["", "", "?", "?", "!", " please", " pls", " thanks", " :)", " today", " for me"]

RECOMMEND_PRODUCT_TEMPLATES = """can you recommend a good {x}|what {x} would you recommend|recommend me a {x}|
which {x} do you recommend|any suggestions for a {x}|suggest a {m} {x}|what's the most popular {x}|
what are your best selling {x}s|can you suggest a {x} for {use}|i need a recommendation for a {x}|
recommend a {x} under ${p}|what {x} should i buy|any {x} you'd recommend|which {b} {x} do you suggest|
show me {x}s similar to the {b} one|something similar to a {m} {x}|what's trending in {x}s|best seller {x}|
could you recommend a {m} {x} for my {who}|what's a good {x} for {use}|i'd like a recommendation on {x}s|
top recommended {x}|recommend a {x} for the {r}|suggestions for {x}s under ${p}|popular {x}s right now|
do you recommend the {b} {x}|what {m} {x} do you suggest|can you recommend some {x}s"""
REC_PRODUCT_NOUNS = """gaming mouse|laptop|office chair|sofa|coffee table|area rug|floor lamp|monitor|keyboard|
headphones|printer|tv stand|desk|mattress|bookshelf|dining table|router|webcam|backpack|running shoes|
winter coat|blender|air fryer|vacuum|bed frame|dresser|patio umbrella|ceiling fan|smart watch|tablet"""

GREET_OPEN = "hi|hello|hey|hiya|heya|howdy|good morning|good afternoon|good evening|morning|yo|hey hey|hello hello|greetings|hi hi|hellooo|heyyy"
GREET_ADDR = "| there| everyone| mate| friend| buddy| folks| again| bot| all"
GREET_TAIL = """|!|!!|.|, how are you?|, how are you doing today?|, how's it going?|, how's your day going?|
, hope you're well|, how have you been?| :)|, what's up?|, nice to meet you|, good to see you|, how are things?|
, are you there?| how are you|, hope you're having a good day|, how is everything?|, how are you doing"""
BYE_OPEN = """bye|goodbye|bye bye|bye for now|see you|see ya|see you later|see you soon|talk to you later|talk soon|
catch you later|later|take care|have a good day|have a nice one|good night|farewell|cheerio|so long|ok bye|
alright bye|i'm off|gotta run|i'm going now|i'll talk to you later|i have to leave now|time to go|see you around"""
BYE_ADDR = "| then| now| mate| friend| everyone| for now| buddy"
BYE_TAIL = "|!|.| :)|, take care|, have a great day|, see you next time|, until next time|, have a good evening|, speak soon|, bye"
THANK_OPEN = """thanks|thank you|thanks a lot|thanks so much|thank you so much|many thanks|cheers|thx|ty|thanks a bunch|
thanks a ton|much appreciated|appreciate it|i appreciate it|thank you kindly|great thanks|awesome thanks|
perfect thanks|thank you very much|thanks heaps|really appreciate it|ok thank you|cool thanks|nice one thanks"""
THANK_ADDR = "| mate| buddy| friend| man| again| pal| so much"
THANK_TAIL = """|!|!!|.|, that was helpful|, that was really helpful|, you've been a great help| for your help| for the help|
 for helping me|, that's exactly what i needed|, you're the best| :)|, that helps a lot|, very helpful|
, that answers my question|, great job| for the quick answer|, i really appreciate it"""

# longer, less formulaic closers and expressions of gratitude (conversation-level goodbyes and
# thanks that contain no "bye"/"thanks" keyword)
BYE_SENTENCES = """it was nice talking to you|it's been great chatting with you|this was a really helpful conversation|
that was a good chat|i enjoyed talking with you|pleasure talking to you|good talking to you, i'm off now|
it was a pleasure chatting|great conversation, see you|i think we're done here, have a good one|
i'll let you go now|that's all from me for today|i'm going to log off now|i'll be on my way|
thanks for the chat, goodbye|lovely chatting, take care|until we meet again|i must be going|
time for me to head out|alright, i'm out|have a lovely rest of your day|enjoy the rest of your evening"""
THANK_SENTENCES = """i'm really grateful for your help|i'm so thankful|
you were very helpful|that was super helpful|my sincere thanks|heartfelt thanks|thanks from the bottom of my heart|
i can't thank you enough|i'm very grateful|you have my thanks|i really appreciate your assistance|
thank you for your time|thanks for your patience|you saved me a lot of time|that's very helpful of you|
a big thank you|much gratitude|that really helped me out|grateful for the help|
thanks, you made my day|i appreciate all your help"""
GREET_SENTENCES = """whaddup|sup dude|yo yo|hey, what's happening|howdy partner|hey there, how's life|
good morning to you|hello, how's everything going|hi, hope your day is going well|hey, nice to be back|
hello there, how are you this morning|morning, how are you|hey, long time|hi, what's new with you|
good evening, how are you tonight"""


def _norm(s: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", s.lower()))


def _template_heldout(t: str, pct: int = 25) -> bool:
    return _h("rectemplate|" + t) % 100 < pct


def synth_recommend(rng: random.Random, per_template: int = 8, heldout: bool = False) -> List[str]:
    out = []
    for t in _split(RECOMMEND_TEMPLATES):
        if _template_heldout(t) != heldout:
            continue
        seen = set()
        for _ in range(per_template * 3):
            s = (rng.choice(REC_PRE) + t + rng.choice(REC_POST)).strip()
            if s not in seen:
                seen.add(s)
                out.append(s)
            if len(seen) >= per_template:
                break
    return out


def synth_recommend_products(rng: random.Random, products: List[str], n_per_template: int = 12,
                             heldout: bool = False) -> List[str]:
    mods, brands = _split(MODIFIERS), _split(BRANDS_EXTRA)
    uses, rooms, who = _split(USES), _split(ROOMS), _split(WHO)
    out = []
    for t in _split(RECOMMEND_PRODUCT_TEMPLATES):
        if _template_heldout(t) != heldout:
            continue
        for _ in range(n_per_template):
            p = rng.choice([20, 50, 100, 200, 300, 500])
            s = t.format(x=rng.choice(products), m=rng.choice(mods), b=rng.choice(brands), p=p,
                         use=rng.choice(uses), r=rng.choice(rooms), who=rng.choice(who))
            out.append(s.replace("ss ", "s ") + rng.choice(["", "", "?", " please"]))
    return out


def synth_smalltalk(rng: random.Random, n: int = 300) -> List[Tuple[str, str]]:
    """Compositional greetings / goodbyes / thanks (opening x address x tail),
    short and long, minus anything that equals a CLINC val row (normalised)."""
    c = read_clinc()
    banned = {_norm(u) for u, _ in c["val"] + c["oos_val"]}
    out = []
    for lab, (o, a, t) in (("greeting", (GREET_OPEN, GREET_ADDR, GREET_TAIL)),
                           ("goodbye", (BYE_OPEN, BYE_ADDR, BYE_TAIL)),
                           ("thanks", (THANK_OPEN, THANK_ADDR, THANK_TAIL))):
        opens = _split(o)
        addrs = [x for x in a.replace("\n", "").split("|")]
        tails = [x for x in t.replace("\n", "").split("|")]
        seen = set()
        for _ in range(n * 4):
            s = rng.choice(opens) + (rng.choice(addrs) if rng.random() < 0.5 else "") + \
                (rng.choice(tails) if rng.random() < 0.6 else "")
            if _norm(s) in banned or s in seen:
                continue
            seen.add(s)
            out.append((s, lab))
            if len(seen) >= n:
                break
    return out


def recommend_heldout_rows() -> List[Tuple[str, str]]:
    rng = random.Random(2024)
    # every string a training template can produce (prefix x template x suffix), so that a held-out
    # template whose expansion coincides with a training one ("any suggestions" + " for me") is dropped
    train_strings = {_norm(p + t + q) for t in _split(RECOMMEND_TEMPLATES) if not _template_heldout(t)
                     for p in REC_PRE for q in REC_POST}
    rows = [(s, "recommend") for s in synth_recommend(rng, per_template=6, heldout=True) if _norm(s) not in train_strings]
    nouns = _split(REC_PRODUCT_NOUNS) + _split(FURNITURE)[:40]
    rows += [(s, "product_search") for s in synth_recommend_products(rng, nouns, n_per_template=5, heldout=True)]
    return rows


# ---------------------------------------------------------------- augmentation

KEYB = "qwertyuiop asdfghjkl zxcvbnm"


def _neighbors():
    rows = KEYB.split()
    nb = {}
    for r, row in enumerate(rows):
        for i, ch in enumerate(row):
            cand = []
            if i > 0:
                cand.append(row[i - 1])
            if i + 1 < len(row):
                cand.append(row[i + 1])
            for rr in (r - 1, r + 1):
                if 0 <= rr < len(rows) and i < len(rows[rr]):
                    cand.append(rows[rr][i])
            nb[ch] = cand
    return nb


NB = _neighbors()


def typo(s: str, rng: random.Random, n: int = 1) -> str:
    chars = list(s)
    for _ in range(n):
        idx = [i for i, c in enumerate(chars) if c.isalpha()]
        if len(idx) < 4:
            break
        i = rng.choice(idx)
        op = rng.random()
        if op < 0.25 and i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif op < 0.5:
            del chars[i]
        elif op < 0.7:
            chars.insert(i, chars[i])
        else:
            c = chars[i].lower()
            if c in NB:
                chars[i] = rng.choice(NB[c])
    return "".join(chars)


FILLERS_PRE = ["", "", "", "hi, ", "hey ", "hello, ", "please ", "um ", "ok so ", "excuse me, ", "quick question: "]
FILLERS_POST = ["", "", "", " please", " thanks", " asap", "?", "!", " pls", " thank you", "??"]


SYNONYMS = [
    ["place an order", "make an order", "submit an order", "put in an order", "make a purchase", "place a purchase"],
    ["invoice", "bill", "receipt"],
    ["invoices", "bills", "receipts"],
    ["refund", "reimbursement", "money back", "repayment"],
    ["account", "profile", "user account"],
    ["delete", "remove", "close", "terminate", "get rid of"],
    ["edit", "modify", "update", "change", "correct"],
    ["shipping address", "delivery address", "postal address", "mailing address"],
    ["customer service", "customer support", "customer care", "support team", "help desk"],
    ["human agent", "live agent", "real person", "representative", "operator", "human being"],
    ["newsletter", "mailing list", "email newsletter"],
    ["delivery", "shipping", "shipment"],
    ["complaint", "claim", "grievance", "reclamation"],
    ["review", "feedback", "opinion", "rating"],
    ["sign up", "register", "enroll", "open an account"],
    ["order", "purchase"],
    ["want to", "would like to", "need to", "wish to", "have to", "wanna"],
    ["how can i", "how do i", "how could i", "what is the way to", "what do i have to do to", "how to"],
    ["help me", "assist me", "help me out", "give me a hand"],
    ["can you", "could you", "would you", "will you"],
    ["password", "pass word", "login password", "pwd"],
    ["payment", "payments", "paying"],
    ["options", "choices", "alternatives"],
    ["track", "follow", "locate", "trace"],
    ["cancel", "call off", "revoke"],
]
_SYN_RE = [(g, re.compile(r"\b(" + "|".join(re.escape(p) for p in sorted(g, key=len, reverse=True)) + r")\b", re.I))
           for g in SYNONYMS]


def synonym_swap(s: str, rng: random.Random, p: float = 0.5) -> str:
    for g, rx in _SYN_RE:
        m = rx.search(s)
        if m and rng.random() < p:
            rep = rng.choice([x for x in g if x != m.group(1).lower()])
            s = s[:m.start()] + rep + s[m.end():]
    return s


def augment(s: str, label: str, rng: random.Random) -> str:
    if label != "product_search" and rng.random() < 0.6:
        s = synonym_swap(s, rng)
    r = rng.random()
    if r < 0.35:
        s = typo(s, rng, n=rng.choice([1, 1, 2]))
    elif r < 0.5:
        s = re.sub(r"[?.!,]", "", s)
    r = rng.random()
    if r < 0.15:
        s = s.upper()
    elif r < 0.35:
        s = s.lower()
    elif r < 0.45:
        s = s.title()
    elif r < 0.55:
        s = s[:1].upper() + s[1:]
    if label not in ("greeting", "goodbye", "thanks") and rng.random() < 0.2:
        s = rng.choice(FILLERS_PRE) + s + rng.choice(FILLERS_POST)
    return s.strip() or s


# ---------------------------------------------------------------- training set

def build_training_set(seed: int = 1234, n_products: int = 5000, n_oos: int = 8000, aug_copies: float = 0.8,
                       bitext_mode: str = "grouped"):
    """Returns (train, val) lists of (text, label).

    val = a grouped Bitext validation split (8% of content-word groups, with
    an augmented copy each) + a 5% dev split of the other training examples;
    used for model selection and the OOS threshold (with CLINC val). The
    held-out test files (data/heldout) are never touched here."""
    rng = random.Random(seed)
    bit_train, bit_val, _ = split_bitext(mode=bitext_mode, val_pct=8)
    clinc = read_clinc()
    wands_train, _ = split_wands()
    products = read_catalog()

    ex: List[Tuple[str, str]] = list(bit_train)
    prod = synth_product_queries(products, wands_train, n_products, seed=seed + 1)
    ex += [(q, "product_search") for q in prod]
    oos, small = [], []
    for u, i in clinc["train"] + clinc["oos_train"]:
        y = clinc_label(i)
        if y is None:
            continue
        (oos if y == OOS else small).append((u, y))
    rng.shuffle(oos)
    ex += oos[:n_oos] + small
    # (the *_MORE lists are training-only; the vocabulary was built from the first lists)
    for lab, lst in (("greeting", GREETINGS + "|" + GREETINGS_MORE), ("goodbye", GOODBYES + "|" + GOODBYES_MORE),
                     ("thanks", THANKS + "|" + THANKS_MORE)):
        for s in _split(lst):
            ex += [(s, lab)] * 3
    # recommend (training templates only) + product searches that contain "recommend"/"suggest",
    # + compositional small talk (see synth_recommend / synth_smalltalk)
    rrng = random.Random(seed + 11)
    ex += [(s, "recommend") for s in synth_recommend(rrng, per_template=10)]
    rnouns = _split(REC_PRODUCT_NOUNS) + _split(HOME_MORE) + _split(ELECTRONICS)
    ex += [(s, "product_search") for s in synth_recommend_products(rrng, rnouns, n_per_template=14)]
    ex += synth_smalltalk(rrng, n=300)
    for lab, lst in (("greeting", GREET_SENTENCES), ("goodbye", BYE_SENTENCES), ("thanks", THANK_SENTENCES)):
        ex += [(s, lab) for s in _split(lst)] * 2
    # augmentation copies (typos, casing, punctuation, fillers)
    nb = len(bit_train)
    bt, rest = list(ex[:nb]), list(ex[nb:])
    for src in (bt, rest):
        for s, y in list(src):
            k = int(aug_copies) + (1 if rng.random() < aug_copies - int(aug_copies) else 0)
            for _ in range(k):
                src.append((augment(s, y, rng), y))
    rng.shuffle(rest)
    nval = len(rest) // 20
    val = rest[:nval] + bit_val + [(augment(u, y, rng), y) for u, y in bit_val]
    train = bt + rest[nval:]
    rng.shuffle(train)
    return train, val
