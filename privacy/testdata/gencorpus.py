#!/usr/bin/env python3
"""Writes corpus.jsonl, the labelled redaction corpus read by corpus_test.go.

    python3 gencorpus.py > corpus.jsonl

Every sentence below is hand-written. Card numbers and IBANs are either public
test numbers or computed here (Luhn / ISO 13616 mod-97) so that positives are
valid and the "invalid" look-alikes are not. In a sentence, {{kind:value}}
marks a span that must be redacted as kind; everything else must be kept.
Each output line: {"text", "spans": [{"kind","start","end","text"}], "group"}
with byte offsets into the UTF-8 text. The seed is fixed, so the output is
stable.
"""
import json
import random
import re
import sys

rng = random.Random(11)


def luhn_ok(s):
    total = 0
    for i, ch in enumerate(reversed(s)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_complete(prefix, n):
    body = prefix + "".join(rng.choice("0123456789") for _ in range(n - len(prefix) - 1))
    for c in "0123456789":
        if luhn_ok(body + c):
            return body + c
    raise AssertionError


def luhn_break(s):
    last = int(s[-1])
    out = s[:-1] + str((last + rng.randint(1, 9)) % 10)
    assert not luhn_ok(out)
    return out


def ean_ok(s):
    digits = [int(c) for c in s]
    # weights from the right, starting with 3 next to the check digit
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == digits[-1]


def iban_check(cc, bban):
    s = bban + cc + "00"
    num = "".join(str(int(c, 36)) for c in s)
    return "%02d" % (98 - int(num) % 97)


def iban_ok(iban):
    s = iban.replace(" ", "")
    s = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


def grouped(s, sizes, sep=" "):
    out, i = [], 0
    for n in sizes:
        out.append(s[i:i + n])
        i += n
    assert i == len(s), (s, sizes)
    return sep.join(out)


def fours(s):
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


# ---------------------------------------------------------------- cards
# (number, network) — public test numbers first, then computed ones.
CARDS = [
    ("4111111111111111", "visa"), ("4242424242424242", "visa"), ("4012888888881881", "visa"),
    ("4000056655665556", "visa"), ("4222222222222", "visa13"),
    ("5555555555554444", "mc"), ("5105105105105100", "mc"), ("5200828282828210", "mc"),
    ("2223003122003222", "mc"), ("378282246310005", "amex"), ("371449635398431", "amex"),
    ("6011111111111117", "discover"), ("6011000990139424", "discover"),
    ("30569309025904", "diners"), ("38520000023237", "diners"), ("36227206271667", "diners"),
    ("3530111333300000", "jcb"), ("3566002020360505", "jcb"), ("6200000000000005", "unionpay"),
    ("6205500000000000004", "unionpay19"), ("6759649826438453", "maestro"),
]
for prefix, n, net in [("4", 16, "visa"), ("4", 16, "visa"), ("4", 16, "visa"), ("4", 19, "visa19"),
                       ("51", 16, "mc"), ("53", 16, "mc"), ("55", 16, "mc"), ("2221", 16, "mc"),
                       ("2720", 16, "mc"), ("2305", 16, "mc"), ("34", 15, "amex"), ("37", 15, "amex"),
                       ("6011", 16, "discover"), ("65", 16, "discover"), ("644", 16, "discover"),
                       ("3528", 16, "jcb"), ("3589", 16, "jcb"), ("36", 14, "diners"), ("300", 14, "diners"),
                       ("62", 16, "unionpay"), ("62", 19, "unionpay19"), ("5018", 16, "maestro"),
                       ("6759", 16, "maestro"), ("6011", 19, "discover19"), ("4", 16, "visa"),
                       ("52", 16, "mc"), ("54", 16, "mc"), ("4", 16, "visa"), ("37", 15, "amex"),
                       ("6011", 16, "discover"), ("3540", 16, "jcb"), ("4", 16, "visa"),
                       ("51", 16, "mc"), ("4", 16, "visa"), ("2410", 16, "mc"), ("4", 13, "visa13")]:
    CARDS.append((luhn_complete(prefix, n), net))
for num, _ in CARDS:
    assert luhn_ok(num), num


def card_styles(num, net):
    n = len(num)
    styles = [num]
    if net.startswith("amex"):
        styles += [grouped(num, [4, 6, 5]), grouped(num, [4, 6, 5], "-")]
    elif net.startswith("diners") and n == 14:
        styles += [grouped(num, [4, 6, 4])]
    elif n == 16:
        styles += [fours(num), fours(num).replace(" ", "-")]
    elif n == 19:
        styles += [fours(num)]
    return styles


CARD_SENTENCES = [
    "my card number is {{card:%s}}",
    "Card: {{card:%s}} exp 08/27",
    "can you charge {{card:%s}} instead?",
    "I paid with {{card:%s}} but the order #48213 still says unpaid",
    "visa {{card:%s}}",
    "pls use my mastercard {{card:%s}} for order 55102",
    "The payment failed on {{card:%s}}, why?",
    "{{card:%s}} is my new card, the old one expired",
    "refund to card ending... actually the full number is {{card:%s}}",
    "CC {{card:%s}}, CVV is on the back",
    "here you go: {{card:%s}}.",
    "Kreditkarte {{card:%s}} bitte belasten",
    "carte bancaire {{card:%s}} merci",
    "my amex / visa is {{card:%s}} and expiry 11/26",
    "charge it to {{card:%s}} please, thanks!",
    "(card {{card:%s}})",
    "number on the card = {{card:%s}}",
    "I typed {{card:%s}} at checkout and got error 402",
    "debit card {{card:%s}}",
    "use {{card:%s}} for the 2 TB drive",
]

card_examples = []
i = 0
for num, net in CARDS:
    for style in card_styles(num, net):
        tmpl = CARD_SENTENCES[i % len(CARD_SENTENCES)]
        i += 1
        card_examples.append(tmpl % style)

# ---------------------------------------------------------------- IBANs
IBAN_FORMATS = {  # country: (length, bban generator)
    "DE": "8n10n", "GB": "4a6n8n", "FR": "5n5n11c2n", "NL": "4a10n", "ES": "4n4n1n1n10n",
    "IT": "1a5n5n12c", "BE": "3n7n2n", "CH": "5n12c", "AT": "5n11n", "PL": "8n16n",
    "SE": "3n16n1n", "DK": "4n9n1n", "NO": "4n6n1n", "FI": "3n11n", "IE": "4a6n8n",
    "PT": "4n4n11n2n", "LU": "3n13c", "CZ": "4n6n10n", "HU": "3n4n1n15n1n", "RO": "4a16c",
    "GR": "3n4n16c", "HR": "7n10n", "SI": "5n8n2n", "SK": "4n6n10n", "LT": "5n11n",
    "LV": "4a13c", "EE": "2n2n11n1n", "BG": "4a4n2n8c", "MT": "4a5n18c", "CY": "3n5n16c",
    "IS": "4n2n6n10n", "LI": "5n12c", "MC": "5n5n11c2n", "TR": "5n1n16c", "SA": "2n18c",
    "AE": "3n16n", "BR": "8n5n10n1a1c", "IL": "3n3n13n", "UA": "6n19c",
}


def gen_bban(spec):
    out = []
    for count, kind in re.findall(r"(\d+)([nac])", spec):
        pool = {"n": "0123456789", "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                "c": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}[kind]
        out.append("".join(rng.choice(pool) for _ in range(int(count))))
    return "".join(out)


IBANS = ["GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606",
         "NL91ABNA0417164300", "BE68539007547034", "CH9300762011623852957",
         "ES9121000418450200051332", "IT60X0542811101000000123456", "AT611904300234573201"]
for cc, spec in IBAN_FORMATS.items():
    bban = gen_bban(spec)
    IBANS.append(cc + iban_check(cc, bban) + bban)
for cc in ["DE", "FR", "NL", "GB", "ES", "IT", "PL", "BE", "SE", "PT", "CH", "IE"]:
    bban = gen_bban(IBAN_FORMATS[cc])
    IBANS.append(cc + iban_check(cc, bban) + bban)
for ib in IBANS:
    assert iban_ok(ib), ib

IBAN_SENTENCES = [
    "please refund to IBAN {{iban:%s}}",
    "my iban: {{iban:%s}}",
    "Bankverbindung {{iban:%s}}, BIC COBADEFFXXX",
    "send the money back to {{iban:%s}} thanks",
    "RIB / IBAN {{iban:%s}}",
    "Can you wire the refund for order 612345 to {{iban:%s}}?",
    "account {{iban:%s}} (in my name)",
    "IBAN={{iban:%s}}",
    "I changed banks, the new one is {{iban:%s}}.",
    "refund → {{iban:%s}}",
]
iban_examples = []
for k, ib in enumerate(IBANS):
    shown = fours(ib) if k % 3 != 1 else ib
    if k % 11 == 5:
        shown = shown.lower()
    iban_examples.append(IBAN_SENTENCES[k % len(IBAN_SENTENCES)] % shown)

# ---------------------------------------------------------------- e-mails
EMAILS = """jane.doe@example.com john.smith+orders@gmail.com m.mueller@web.de
anna-lena.schmidt@t-online.de pierre.dupont@orange.fr j_garcia@correo.example.es
customer.service@mail.shop.example.co.uk ADMIN@EXAMPLE.ORG tom+test+2@sub.domain.example.io
first.middle.last@university.ac.uk o'brien@example.ie 123456@qq.com
x@y.co user.name@xn--bcher-kva.example info@my-shop.photography
lisa.2024@outlook.com k.nowak@wp.pl s.rossi@libero.it hans@müller-shop.example
noreply+ticket-48213@support.example.net a.b.c.d.e@f.example.travel
sales_team@company-name.com support@shopassist.dev mike.o.conner@yahoo.co.jp
very.common@example.com disposable.style.email.with+symbol@example.com
other.email-with-hyphen@example.com fully-qualified-domain@example.com
user.name+tag+sorting@example.com example-indeed@strange-example.com
test/test@test.com admin@mailserver1.example jan.de.vries@ziggo.nl
ole.nordmann@online.no m.jensen@mail.dk emma.svensson@telia.se
maria.silva@sapo.pt giorgos.papadopoulos@otenet.gr j.novak@seznam.cz
support-team@help.example.com.au buyer_77@hotmail.fr kontakt@firma-gmbh.de
a1b2c3@d4e5.net li.wei@163.com rahul.sharma@rediffmail.com
ana.souza@uol.com.br felix.weber@gmx.ch
""".split()
EMAIL_SENTENCES = [
    "my email is {{email:%s}}",
    "send the invoice to {{email:%s}} please",
    "contact: {{email:%s}}",
    "you can reach me at {{email:%s}}.",
    "I never got the confirmation at {{email:%s}}",
    "E-Mail: {{email:%s}}",
    "<{{email:%s}}>",
    "(mail {{email:%s}})",
    "change my account email from {{email:%s}} to the new one",
    "mailto:{{email:%s}}",
    "Hi, it's {{email:%s}}, order 48213 is late",
    "write to {{email:%s}}, thx!",
    "{{email:%s}} is my login but the password reset never arrives",
]
email_examples = [EMAIL_SENTENCES[k % len(EMAIL_SENTENCES)] % e for k, e in enumerate(EMAILS)]
email_examples += [
    "emails: {{email:ana@example.com}}, {{email:bob.b@example.org}}; cc {{email:carl+shop@example.net}}",
    "ping {{email:eve@example.com}}/{{email:mallory@example.com}}",
    "It's {{email:Peter.Pan@Neverland.Example.COM}}!",
    "reply to {{email:reply-to.me@shop.example}}? ok",
    "\"{{email:quoted.name@example.com}}\"",
    "my mail: {{email:max.mustermann@beispiel.de}} und Tel. {{phone:+49 30 1234567}}",
]

# ---------------------------------------------------------------- phones
phone_examples = """call me on {{phone:+44 20 7946 0958}}
my mobile is {{phone:07700 900461}}
UK landline {{phone:020 7946 0958}} after 6pm
ring {{phone:+44 7700 900123}} please
tel: {{phone:+44 (0)161 496 0752}}
{{phone:+447700900987}} is my whatsapp
you can text {{phone:0161 496 0000}} as well
call {{phone:(555) 123-4567}} when the driver is near
my cell: {{phone:555-123-4567}}
{{phone:+1 415 555 2671}}
phone {{phone:+1 (212) 555-0199}}, ask for Dana
toll free {{phone:1-800-555-0199}} did not help
reach me at {{phone:415.555.0133}}
Vancouver office {{phone:(604) 555-0147}}
{{phone:+1-202-555-0173}} (work)
call back {{phone:212 555 0142}}
{{phone:+14155552671}}
Telefon {{phone:+49 30 123456}}
Tel. {{phone:+49 30 12345678}}
Festnetz {{phone:030 12345678}}
Handy {{phone:0171 1234567}}, abends erreichbar
meine Nummer: {{phone:+49 171 1234567}}
ruf an: {{phone:0176-98765432}}
{{phone:+49 (0)89 1234567}}
Büro {{phone:089/1234567}}
{{phone:+4930123456}} bitte zurückrufen
mon portable {{phone:06 12 34 56 78}}
appelez-moi au {{phone:+33 6 12 34 56 78}}
fixe : {{phone:01 42 68 53 00}}
{{phone:+33 1 42 68 53 00}}
tél {{phone:07.81.23.45.67}}
mon numéro {{phone:0612345678}}
bel me op {{phone:+31 20 123 4567}}
mobiel {{phone:06-12345678}}
vast {{phone:020 123 4567}}
{{phone:+31 6 12345678}} (whatsapp)
llámame al {{phone:+34 612 345 678}}
móvil {{phone:612 34 56 78}}
fijo {{phone:91 123 45 67}}
chiamami al {{phone:+39 06 1234 5678}}
cellulare {{phone:347 123 4567}}
{{phone:+39 347 123 4567}}
ufficio {{phone:02 1234 5678}}
{{phone:+32 2 123 45 67}}
GSM {{phone:0470 12 34 56}}
{{phone:+41 44 668 18 00}}
Geschäft {{phone:044 668 18 00}}
{{phone:+43 1 234567}}
mobil {{phone:0664 1234567}}
ring mig på {{phone:+46 8 123 456 78}}
mobil {{phone:070-123 45 67}}
zadzwoń {{phone:+48 22 123 45 67}}
komórka {{phone:+48 512 345 678}}
{{phone:+353 1 234 5678}}
mobile {{phone:087 123 4567}}
{{phone:+61 2 9876 5432}}
mobile {{phone:0412 345 678}}
{{phone:+91 98765 43210}}
WhatsApp {{phone:+55 11 91234-5678}}
{{phone:+81 3-1234-5678}}
call {{phone:03-1234-5678}} (Tokyo)
telemóvel {{phone:+351 912 345 678}}
{{phone:+45 32 12 34 56}}
{{phone:+47 412 34 567}}
from abroad: {{phone:0044 20 7946 0958}}
oder {{phone:0049 30 123456}}
{{phone:+442079460958}}
my number is {{phone:5551234567}}
phone: {{phone:5550147}}
call me at {{phone:555 0147}} tonight
my phone number {{phone:7946 0958}}
two numbers: {{phone:+44 20 7946 0958}} or {{phone:07700 900461}}
for order 48213 call {{phone:+49 30 123456}} before 14:30
delivery on 15/03/2024, phone {{phone:06 12 34 56 78}}
Rückruf unter {{phone:0211 1234567}} wegen Bestellung #123456
number changed to {{phone:+1 646 555 0110}} yesterday
my husband's phone {{phone:+33 7 81 23 45 67}}
contact {{phone:+353 87 123 4567}} re order 771245
driver should call {{phone:+44 113 496 0000}}
""".strip("\n").split("\n")

# ---------------------------------------------------------------- addresses
address_examples = """ship it to {{address:221B Baker Street}}
my address is {{address:10 Downing Street, London SW1A 2AA}}
{{address:1600 Pennsylvania Avenue NW, Washington, DC 20500}}
deliver to {{address:742 Evergreen Terrace}}, thanks
office: {{address:350 5th Avenue}}
{{address:12 High St.}}
please send it to {{address:45 Station Road}}
{{address:7 Church Lane}}, Oxford
new address: {{address:88 Queen's Road}}
{{address:3 Elm Drive}}
{{address:1234 Oak St, Springfield, IL 62704}}
{{address:55 Park Ave, New York, NY 10022}}
{{address:17 Victoria Rd, Leeds LS6 1AA}}
I moved to {{address:9 Mill Close}} last month
{{address:14 Rose Crescent}}
the parcel went to {{address:31 Spooner Street}} instead of my house
{{address:500 Sunset Blvd}}
{{address:4 Privet Drive}}, Little Whinging
{{address:25 Maple Avenue, Apt 4B}}
i live at {{address:12 baker street}}
deliver to {{address:45 station road}} pls
{{address:2 Kingsway Court}}
{{address:60 Lombard Street}} is the billing address
billing: {{address:1 Main St}}, shipping: {{address:77 King Street}}
{{address:19 Wellington Road, Manchester M14 6AB}}
shipping to {{address:8800 Sunset Boulevard}}
{{address:101 Collins Street, Melbourne VIC 3000}}
{{address:400 Broad St, Seattle, WA 98109}}
{{address:6 Harbour Way}}
{{address:42 Wallaby Way}}, Sydney
{{address:23 Acacia Avenue}}
{{address:1 Infinity Place}}
Lieferadresse: {{address:Hauptstraße 5, 10115 Berlin}}
{{address:Bahnhofstr. 12}}
wohne in der {{address:Berliner Straße 10}}
{{address:Lindenweg 3a}}
{{address:Schillerplatz 7, 70173 Stuttgart}}
{{address:Kaiserallee 22}}
{{address:Müllergasse 4}}
{{address:Goethestrasse 15, 8001 Zürich}}
bitte an {{address:Friedrichstraße 123}} liefern
{{address:Am Hofgarten 9}}
{{address:Kerkstraat 12, 1017 GC Amsterdam}}
{{address:Prinsengracht 263}}
mijn adres: {{address:Dorpsstraat 5}}
{{address:Stationsplein 1}}
{{address:12 rue de la Paix, 75002 Paris}}
{{address:5 avenue des Champs-Élysées}}
{{address:3 bis rue Victor Hugo}}
j'habite {{address:10 boulevard Saint-Michel}}
{{address:8 place Bellecour, 69002 Lyon}}
{{address:14 impasse des Lilas}}
{{address:22 chemin du Moulin}}
{{address:1 quai de la Tournelle}}
{{address:7 allée des Roses}}
{{address:Calle Mayor 5}}
{{address:Calle de Alcalá, 45, 28014 Madrid}}
{{address:Avenida de América 10}}
{{address:Paseo de Gracia 92}}, Barcelona
{{address:Via Roma 12}}
{{address:Via del Corso 101, 00186 Roma}}
{{address:Viale Monza 45}}
{{address:Piazza Navona 3}}
{{address:Corso Buenos Aires 33}}
{{address:Rua Augusta 100, 1100-053 Lisboa}}
{{address:Storgatan 5}}
{{address:Drottninggatan 53, 111 21 Stockholm}}
{{address:Strandvej 12}}
send to {{address:Karl Johans gate 22}}, Oslo
{{address:ul. Marszałkowska 10}}
my new place is {{address:56 Elmwood Ave}} — can you update it?
{{address:9 Rue Lepic}} (Montmartre)
""".strip("\n").split("\n")

POSITIVES = ([("card", s) for s in card_examples] + [("iban", s) for s in iban_examples] +
             [("email", s) for s in email_examples] + [("phone", s) for s in phone_examples] +
             [("address", s) for s in address_examples])

# ---------------------------------------------------------------- negatives
invalid_cards = [luhn_break(n) for n, _ in CARDS[:30]]
# Luhn-valid EAN-13 codes: must be kept in product context.
luhn_eans = []
while len(luhn_eans) < 12:
    body = rng.choice(["40", "50", "54", "87", "76", "80", "30", "37", "35"]) + "".join(rng.choice("0123456789") for _ in range(10))
    for c in "0123456789":
        cand = body + c
        if ean_ok(cand):
            if luhn_ok(cand):
                luhn_eans.append(cand)
            break
bad_ibans = []
for ib in IBANS[:16]:
    bad = ib[:2] + "%02d" % ((int(ib[2:4]) + 1 + rng.randint(0, 50)) % 97 + 2) + ib[4:]
    if not iban_ok(bad):
        bad_ibans.append(bad)

NEG = {}
NEG["order"] = """where is my order 123456?
order #12345 hasn't arrived yet
Order no. 654321 — wrong size
my order number is 48213 and I want to cancel it
#77451
orders 12345 and 67890 came in one box
can I change the address on order 512376
ref 2024031512 for the complaint
ticket 88123 is still open
invoice INV-2024-00123 is missing
RMA 45678-2 for the broken headphones
return label for order #100234
order 123456 and 123457 were both charged
my customer id is 55123
Bestellnummer 443211, wann kommt das Paket?
commande n° 98765 non reçue
pedido 776655 llegó dañado
ordine 334455 in ritardo
order 12345, 2 items missing
voucher code SAVE20 does not work on order 612345
I placed order 5512345678 yesterday
order ref 0612345678 please check
case 00123456 still unresolved
PO 4500123456 for our company purchase
""".strip("\n").split("\n")
NEG["model"] = """do you have the WH-1000XM4 in black?
Samsung SM-G991B or SM-G998B?
MacBook Air A2337 battery
Dell XPS 13 9310 vs 9315
RTX 4090 in stock?
iPhone 15 Pro Max 256 GB
Sony KD-55X85J
Samsung UE55AU7100 55 inch
Logitech MX Master 3S
Canon EOS R6 Mark II body only
HP 305XL ink cartridge
Corsair DDR5-6000 32 GB kit
Intel i7-13700K or Ryzen 9 7950X
Galaxy S23 Ultra 512GB
Casio DW-5600E-1VER
LG 27GP850-B monitor
GTX 1080 Ti used?
Bosch part 0 986 452 041 oil filter
Brother TN-2420 toner
Lenovo ThinkPad T14 Gen 4 21HD0053GE
Nikon Z 24-70mm f/4 S
AirPods Pro 2 with USB-C
Dyson V15 Detect 446986-01
Philips 55OLED808/12
Seagate ST4000DM004 4 TB
Kingston SA400S37/480G
WD Blue SN570 1TB WDS100T3B0C
Garmin 010-02563-00
Bose 700 vs Sony WH-1000XM5
Anker 737 PowerCore 24K
Xiaomi 13T Pro 12+512
Asus ROG Strix G16 G614JV-N4013W
item 4711-0815 out of stock?
part number 1234-5678-9012 fits my bike?
""".strip("\n").split("\n")
NEG["ean"] = ["EAN 4006381333931", "barcode 5901234123457 on the box", "GTIN 00012345600012",
              "UPC 012345678905", "ISBN 978-3-16-148410-0", "ISBN 9780306406157 paperback",
              "the EAN is 8712581549985, is it the EU version?", "EAN: 4548736112100",
              "scan code 7622210449283", "article 4006381333931 vs 4006381333948"]
NEG["ean"] += ["EAN %s please check stock" % e for e in luhn_eans[:6]]
NEG["ean"] += ["barcode %s" % e for e in luhn_eans[6:9]]
NEG["ean"] += ["GTIN: %s" % e for e in luhn_eans[9:]]
NEG["price"] = """under €1,299.99 please
is it $2,499 or $2,999?
kostet 1.299,00 €
£ 349 seems expensive
EUR 1299 max
between 200 and 300 euros
anything under 1000?
price went from 1 299 to 1 099 kr
₹ 1,24,999 in India
was 1.599 € now 1.299 €
budget 150-250
$ 1 234 567 890 is a lot lol
prices 19.99 24.99 29.99 and 34.99
¥ 120000 for the camera
""".strip("\n").split("\n")
NEG["quantity"] = """2 TB SSD please
15.6 inch laptop under 800
65" TV
3 x 128 GB SD cards
5000 mAh battery
1920x1080 monitor
3840 x 2160 at 144 Hz
500 ml bottle, 10 pcs
dimensions 120 x 60 x 75 cm
weighs 1.25 kg
sizes 38 40 42 44
100-240V charger
2 Way Radio set
5 Way splitter
4 Port USB Hub
Samsung 980 Pro Drive
2 Flash Drive pack
1 TB External Drive
the 3 Road bikes are too big
20000 lumens is too bright
32 GB RAM, 1 TB SSD, 16 inch
1 000 000 visitors
""".strip("\n").split("\n")
NEG["date"] = """delivered on 15/03/2024
expected 2024-03-15
Lieferung am 15.03.2024
March 15, 2024 at the latest
on 03-15-2024
card expiry 12/25
delivered 2024-03-15 14:30
between 01.04.2024 and 15.04.2024
from 2023-12-24 to 2024-01-02
born 1990-07-21? no, that's not needed
warranty until 31/12/2026
2024/03/15 09:45
12.03.24 10:00
on 5/6/2024 or 6/5/2024
""".strip("\n").split("\n")
NEG["time"] = """open 9:00-17:00
at 14:30
between 9 and 5
call center hours 08:00 - 20:00
delivery window 10:00–12:00
3-5 business days
10-15 working days
model year 2021-2022
pages 123-145
score 3-1
""".strip("\n").split("\n")
NEG["tracking"] = """tracking 1Z999AA10123456784
tracking number 9400 1000 0000 0000 0000 00
DHL JD014600006281230704
FedEx tracking 123456789012
parcel RR123456789DE
Sendungsnummer 00340434161094042557
colis 6A12345678901
tracking 7489 2234 5678 9012
shipment 00340434161094042557 delayed
parcel number 5512345678
""".strip("\n").split("\n")
NEG["version"] = """firmware v2.3.14
Windows 10.0.19045.2965
iOS 17.4.1
Android 14
version 10.0.22631
app 3.12.0-beta.2
BIOS 1.23.456
driver 31.0.101.4502
build 2024.03.15.1
Python 3.12.1
""".strip("\n").split("\n")
NEG["ip"] = """router at 192.168.1.10
ping 10.0.0.1
DNS 8.8.8.8 and 1.1.1.1
IPv6 fe80::1
server 172.16.254.1:8080
subnet 255.255.255.0
""".strip("\n").split("\n")
NEG["invalid_luhn"] = ["my card %s declined" % fours(n) if len(n) == 16 else "card %s" % n for n in invalid_cards]
NEG["invalid_iban"] = ["IBAN %s" % fours(b) for b in bad_ibans]
NEG["invalid_iban"] += ["DE12 is the code", "GB12 ABCD", "use code FR76 at checkout", "NL91 ABNA",
                        "IBAN DE89 3704 0044 0532 01"]
NEG["at_text"] = """user at home
I'm at home at 5
meet @ the store
follow @sony for news
@shopassist help
email me later
my email? not telling
user@localhost
foo@bar
send it @ 10:00
rated 4.5 @ 1,234 reviews
name@ — oops
""".strip("\n").split("\n")
NEG["address_like"] = """I live 5 minutes from Main Street
Street Fighter 6 for PS5
Playstation 5 digital
Spring 2024 collection
Ring 2 doorbell
Calle 13 album on vinyl
via DHL 2 days
ship via UPS 2nd day air
2 place mats
3 cours de cuisine
the 4 Seasons hotel
Abbey Road 50th anniversary edition
Route 66 poster
Highway 61 Revisited LP
Lane 2 assist feature
Park Avenue 3 piece set
5th Avenue style bag
12 Monkeys blu-ray
7 Wonders board game
1 Direction poster
Drive 2 movie
""".strip("\n").split("\n")
NEG["misc"] = """do you have wireless headphones under 100 euros?
I need a laptop for gaming, 16 GB RAM
the screen is 27 inches, 144 Hz, 1 ms
1 2 3 4 5 6 7 8 9 10
IMEI 356938035643809
serial 5CG1234XYZ
PIN 1234
CVV 123
2023 2024 2025 models
coordinates 48.8566, 2.3522
4 stars from 2,318 reviews
top 10 gaming mice 2024
Call of Duty 2024
dial 112 in an emergency
shoe size 42, EU 42-43
lot 2024-17-A
batch 20240315-01
zip 10115 only
10115 Berlin is the city
Baker Street station
the store on Oxford Street
my user id is 8812345
account number? it's customer 4471203
room 214, floor 3
flight LH 2024 at 10:45
train ICE 1527 to Munich
ASIN B08N5WRWNW
gift card balance 25.00
6 digits code 482913 didn't arrive
SMS code 553 112
reference A-1234-5678
""".strip("\n").split("\n")

NEG["chat"] = """hi, I ordered 2 pairs of shoes on Monday and only 1 arrived
can I return the 55 inch TV within 30 days?
what's the difference between the 128 GB and 256 GB model?
my order 482130 shows delivered but nothing came
do you ship to Germany? delivery in 3-5 days?
I want the 2-pack, not the 4-pack
is the 14 inch or the 16 inch better for video editing?
bought it on 02/11/2023, warranty is 2 years right?
charger is 65 W, does it work with 20 V laptops?
the blue one, size 10.5 US / 44.5 EU
I have 3 kids aged 4, 7 and 11, which tablet?
it says error code 0x80070005 when installing
Bluetooth 5.3, range 10 m, battery 30 h
compare 4K 120 Hz TVs between 800 and 1200
which SSD is faster, 7000 MB/s or 5000 MB/s?
can I pay in 3 instalments of 33.33?
order 100234 arrived damaged, photo attached
2 x HDMI 2.1, 4 x USB 3.2
vacuum with 2.5 l bin, 150 AW suction
I need 12 of them by 15 March for the office
the 2024 model or the 2023 one?
my receipt says 1 x 79.99 and 2 x 12.50
is 1080p enough on a 24 inch screen?
3 Bedroom house needs 2 routers?
where do I enter promo code SPRING24?
""".strip("\n").split("\n")

# ---------------------------------------------------------------- hold-out
# The lines above were written alongside the detector and it was tuned on
# them, so their figures flatter it.
# HOLDOUT_*: written after the detector passed the lines above; measured once
# (recall 42/42, precision 42/45: two false positives and one unlabelled
# card, labelled since), then tuned on like the rest.
# PROBE_*: written to probe weaknesses; measured once (recall 71/80,
# precision 1.0), then the detector was fixed for most misses.
# BLIND_*: written last. The detector was not changed to fit them (later
# changes for speed and for idempotence left their figures identical), so
# their figures, printed on their own by corpus_test.go, are the fairest
# estimate here of precision and recall on text it was not fitted to.
HOLDOUT_POS = """Mein Name ist Jonas, meine E-Mail {{email:jonas.becker@posteo.de}}, Handynummer {{phone:0157 12345678}}
plz call {{phone:07911 123456}} asap
you can reach me on {{phone:+44 7911 123456}} or {{email:jb@jb.me}}
tel {{phone:+33 (0)1 45 67 89 10}}
phone {{phone:(0)20 7946 0958}}
My address: {{address:4 Elm Grove, Bristol BS1 4DJ}}
send to {{address:1 Apple Park Way, Cupertino, CA 95014}}
Flat 3, {{address:27 Argyle Street, Glasgow G2 8AH}}
Rechnungsadresse {{address:Königsallee 92a, 40212 Düsseldorf}}
{{address:Leopoldstraße 44, 80802 München}} bitte
{{address:24 avenue Jean Jaurès 69007 Lyon}}
{{address:Via Garibaldi 7, 16124 Genova}}
{{address:Calle Gran Vía 28}}, Madrid
card no {{card:4916 3385 0608 2832}}
{{card:5425233430109903}} exp 03/28
Amex {{card:3714 496353 98431}}
visa {{card:4539-1488-0343-6467}} no wait, it's {{card:4539148803436467}}
discover card {{card:6011 5144 3354 6201}}
my IBAN is {{iban:DE75 5121 0800 1245 1261 99}}
{{iban:NL02ABNA0123456789}}
virement sur {{iban:FR76 3000 6000 0112 3456 7890 189}}
{{iban:GB33 BUKB 2020 1555 5555 55}} (Barclays)
refund {{iban:IE64IRCE92050112345678}}
{{email:Jane_Doe-88@sub.mail.example.com}}
contact me: {{email:first.last@company.travel}}
mail me at {{email:bob@example.com}}!
call {{phone:+1 (800) 555-0000}}
{{phone:800.555.0100}}
{{phone:+49-170-1234567}}
freephone {{phone:0800 123 4567}}
{{phone:+420 601 123 456}}
{{phone:+386 40 123 456}}
{{phone:+90 532 123 45 67}}
{{phone:+7 912 345-67-89}}
{{phone:+86 138 0013 8000}}
{{phone:+971 50 123 4567}}
{{phone:+27 82 123 4567}}
{{phone:1-888-555-0123}}
{{phone:(02) 9876 5432}}
Handy {{phone:0664/1234567}}
""".strip("\n").split("\n")
HOLDOUT_NEG = """Order #1045512 confirmation
tracking: 1Z 999 AA1 01 2345 6784
the 4000 series
HDMI 2.1 at 48 Gbit/s
SKU 100-200-300-400
part no. 0 280 158 117
room for 3 to 4 people
size 36-38-40
MPN 90NR0GW1-M00490
shipped 3/14/2024 via USPS
expected between 14.03. and 16.03.
4 x 25 W RMS
Lot 20240315-0012
phone case for iPhone 13
Call me when the 65 inch is back
call of duty 2
order 0612345678
mobile phone with 6.7 inch screen and 5000 mAh
Galaxy A54 5G 128GB
model 2023 1080p 60Hz
ISBN 0-306-40615-2
serial no 1234 5678 9012 3456
CAS 7732-18-5
temperature 22.5 °C
since 2019-2020
My order total was 1.234,56 €
Street View 2 camera
Sunset Boulevard DVD 1950
12 Days of Christmas
Route 66 Road Trip game
I'm 25 and live on Main Street
5 Guys gift card
""".strip("\n").split("\n")

PROBE_POS = """email: {{email:maria.garcia@empresa.com.mx}}
my mail is {{email:ALICE.SMITH@EXAMPLE.CO.UK}}
Kontakt: {{email:info@bäckerei-müller.de}}
<a href="mailto:{{email:someone@example.org}}">
send it to {{email:j.o.h.n@example.com}}.
email—{{email:kate_w@example.net}}—thanks
{{email:me@my.domain.io}}; {{email:you@your.domain.io}}
{{email:xyz.123@yahoo.com.ar}}
tel:{{phone:+15551234567}}
{{phone:+44 (0) 20 7946 0958}}
{{phone:+33 (0)6 12 34 56 78}}
{{phone:+49 (0) 171 1234567}}
{{phone:+1.415.555.2671}}
{{phone:+61 (0)2 9876 5432}}
{{phone:+34 91 123 45 67}}
{{phone:+43 664 1234567}}
{{phone:+48 600-123-456}}
{{phone:+30 21 0123 4567}}
{{phone:+36 1 234 5678}}
{{phone:+40 721 234 567}}
{{phone:+52 55 1234 5678}}
{{phone:+65 6123 4567}}
{{phone:+852 2123 4567}}
{{phone:+82 10-1234-5678}}
{{phone:06 12 34 56 78}} ou {{phone:07 12 34 56 78}}
{{phone:0043 664 1234567}}
{{phone:0151-12345678}}
{{phone:(030) 12345678}}
{{phone:(0171) 1234567}}
mobile: {{phone:07700900461}}
call me {{phone:9876543210}}
my cell is {{phone:612345678}}
txt {{phone:555-0123}}
WhatsApp: {{phone:+49 1512 3456789}}
{{card:4111 1111 1111 1111}} exp 01/29 cvv 123
card: {{card:5500-0000-0000-0004}}
{{card:3782-822463-10005}}
{{card:4012 8888 8888 1881}}
{{card:6011-1111-1111-1117}}
my visa:{{card:4242424242424242}}
{{card:5454 5454 5454 5454}}
{{card:3566 0020 2036 0505}}
CARD#{{card:4111111111111111}}
{{card:4111.1111.1111.1111}}
IBAN: {{iban:DE89-3704-0044-0532-0130-00}}
iban {{iban:de89370400440532013000}}
{{iban:CH93 0076 2011 6238 5295 7}}
{{iban:BE71 0961 2345 6769}}
{{iban:IT60 X054 2811 1010 0000 0123 456}}
{{iban:PL61 1090 1014 0000 0712 1981 2874}}
{{iban:GB29 NWBK 6016 1331 9268 19}}
IBAN:{{iban:ES7921000813610123456789}}
{{iban:AT48 3200 0000 1234 5864}}
{{iban:SE35 5000 0000 0549 1000 0003}}
I live at {{address:17 Cherry Tree Lane}}
ship to: {{address:3/12 George St, Sydney NSW 2000}}
{{address:45B Old Kent Road, London SE1 5HY}}
Apartment 5, {{address:200 East 42nd Street, New York, NY 10017}}
{{address:Unter den Linden 77, 10117 Berlin}}
{{address:Rue de Rivoli 99}}
{{address:Avenue Louise 54, 1050 Bruxelles}}
{{address:Rambla de Catalunya 22}}
{{address:Carrer de Mallorca 401, 08013 Barcelona}}
{{address:Piazza del Duomo 1}}
{{address:Via XX Settembre 3}}
{{address:Marktplatz 1}}
{{address:Zeil 106, 60313 Frankfurt}}
{{address:Herengracht 182}}
{{address:Keizersgracht 123}}, Amsterdam
{{address:Nørrebrogade 12}}
{{address:Mannerheimintie 10}}
{{address:ul. Długa 5}}
{{address:Rua das Flores 12}}
{{address:Calle Serrano 41, 28001 Madrid}}
{{address:123 main st apt 4}}
{{address:55 Rue du Faubourg Saint-Honoré}}
{{address:Bahnhofstrasse 10, 8001 Zürich}}
{{address:Schlossallee 1}}
""".strip("\n").split("\n")
PROBE_NEG = """my phone is an iPhone 12 mini
call 2 to 3 times
3 for 2 offer
buy 1 get 1 free
Galaxy S24+ 256
price 1299.00 EUR incl. 19 % VAT
1/2 price
PS5 + 2 controllers
8K TV 75 inch
06:30 tomorrow
15 Mar 2024 - 20 Mar 2024
2024-03-15T14:30:00Z
commande 2024-0612345
ticket #0612345678
UPS 1Z12345E0205271688
USPS 9205 5000 0000 0000 0000 00
Royal Mail AB123456789GB
postcode SW1A 1AA only
PLZ 10115
coupon 4111-XMAS-2024
EAN 4 006381 333931
GTIN-14 10012345678902
v1.2.3-rc.4
10.0.0.0/8
Bosch GSR 18V-55
Makita DHP482Z 18 V
AMD 7800X3D
bought 12 bottles of wine
Samsung QE65S95C 65 Zoll
model number 0612345678
between 0800 and 1800 hrs
Dimensions: 1200 x 600 x 750 mm
ID 2023 4567 8901
Serial: 0123 4567 89
Buy 2 Street lamps
Abbey Road Studios 3 hours tour
Raspberry Pi 4 Model B 8GB
Track 12 on the album
Queen Street Station platform 4
Windows 11 Pro 23H2
shoe size UK 9.5
password reset code 0123456789
transaction 0612345678901
+3 more items
rating +4.5
temperature -20 to +50
+1 for the blue one
24/7 support
365 days return
""".strip("\n").split("\n")

BLIND_POS = """Hello, I'm Sarah Connor, {{email:sarah.connor@skynet-mail.com}}, {{phone:0171 9876543}}, {{address:Frankfurter Allee 12, 10247 Berlin}}
Please deliver to {{address:8 Lime Street, Liverpool L1 1JQ}} and text me on {{phone:07123 456789}}
card {{card:4024 0066 3923 3213}}
The number is {{phone:+33612345678}}
Could you call my husband at {{phone:(617) 555-0123}}?
his email is {{email:dave@example.museum}}
Ich wohne in der {{address:Goethestraße 12a}} in 60313 Frankfurt
IBAN {{iban:NO93 8601 1117 947}}
iban: {{iban:FI21 1234 5600 0007 85}}
{{iban:DK50 0040 0440 1162 43}}
my bank: {{iban:IE29 AIBK 9311 5212 3456 78}}
{{card:5105 1051 0510 5100}} is the card
Diners {{card:3056 930902 5904}}
JCB {{card:3530 1113 3330 0000}}
card {{card:6759 6498 2643 8453}}
call me back: {{phone:020-7946-0958}}
mob. {{phone:0049 151 23456789}}
phone {{phone:+1 212-555-0147}} ext. 12
my number: {{phone:+44 1632 960983}}
fax {{phone:+49 89 12345-678}}
c/o {{address:31 Elm Street, Apt 2, Boston, MA 02118}}
Lieferung an {{address:Kastanienallee 7, 10435 Berlin}}
adresse : {{address:18 rue des Martyrs 75009 Paris}}
{{address:Plaza Mayor 3}}, Salamanca
{{address:Calle del Prado 21}}
{{address:Largo di Torre Argentina 4}}
emails: {{email:support+ticket123@help.shop.example.com}}
email me ({{email:b.smith@uni-hamburg.de}})
E: {{email:tom.h@example.co.nz}} / T: {{phone:+64 9 123 4567}}
{{email:contact@ex-ample.de}}
mi correo es {{email:lucia_fernandez@telefonica.net}}
Ma carte: {{card:4970 1000 0000 0063}}
Name on card J SMITH {{card:5555 5555 5555 4444}} exp 10/27
telephone: {{phone:01632 960123}}
WhatsApp {{phone:+34 699 12 34 56}}
my cell {{phone:+1-312-555-0186}}
GSM: {{phone:+32 470 12 34 56}}
tel. {{phone:022 123 45 67}}
{{address:1200 Getty Center Drive, Los Angeles, CA 90049}}
{{address:77 Massachusetts Ave, Cambridge, MA 02139}}
{{address:Wiedner Hauptstraße 63, 1040 Wien}}
{{address:Kurfürstendamm 21}}
{{address:Oudezijds Voorburgwal 300}}
{{address:Sveavägen 44}}
{{address:Váci utca 10}}
""".strip("\n").split("\n")
BLIND_NEG = """I'll be home at 6, call you then
order 2231456 was split in two parcels
the S22 has 8 GB and the S23 has 8 GB too
DPD 0150 3456 7890 12
GLS tracking 12345678901
Hermes H1001234567890123456
Amazon order 302-1234567-1234567
eBay item 1234567890
postcode 75002
call 0800-STORE
RAM 2x16GB DDR4-3200 CL16
TV 55" 4K 120Hz HDMI 2.1
1 200 € budget
invoice 2024/000123
phone 2 has a cracked screen
my phone: iPhone 14 Pro, 256 GB
ships in 1-2 business days
tickets 12 34 56
Rated 4.8/5 (12,345 reviews)
open Mon-Fri 9-18
my son is 12 and my daughter 15
item no. 100 234 567
10 x 10 x 10 cm
dial *100# for balance
WiFi 6E, 2.4/5/6 GHz
5.1.2 Dolby Atmos
Nokia 3310
Canon 5D Mark IV
Lego 75192 Millennium Falcon
Lego set 10294 Titanic
HP LaserJet Pro M404dn
size 10 1/2
2 pcs 220-240 V
Zip code 90210 is Beverly Hills
I want 3 Baker Street mugs
Penny Lane 7 inch vinyl
42 Street Food recipes book
Avenue 5 series on Sky
Calle 54 soundtrack
2024 Main Street Festival tickets
Apple Store on 5th Avenue
I ordered 2 items from your shop at 12:45
4 stars, would buy again
""".strip("\n").split("\n")

MARK = re.compile(r"\{\{(\w+):(.*?)\}\}")


def render(s):
    text, spans, pos = "", [], 0
    for m in MARK.finditer(s):
        text += s[pos:m.start()]
        start = len(text.encode())
        text += m.group(2)
        spans.append({"kind": m.group(1), "start": start, "end": len(text.encode()), "text": m.group(2)})
        pos = m.end()
    text += s[pos:]
    return text, spans


lines = []
for group, s in POSITIVES:
    text, spans = render(s)
    assert spans, s
    lines.append({"text": text, "spans": spans, "group": group})
for s in HOLDOUT_POS:
    text, spans = render(s)
    assert spans, s
    for sp in spans:
        if sp["kind"] == "card":
            assert luhn_ok(re.sub(r"\D", "", sp["text"])), sp
        if sp["kind"] == "iban":
            assert iban_ok(sp["text"]), sp
    lines.append({"text": text, "spans": spans, "group": "holdout"})
for s in HOLDOUT_NEG:
    lines.append({"text": s, "spans": [], "group": "holdout_neg"})
for s in PROBE_POS:
    text, spans = render(s)
    assert spans, s
    for sp in spans:
        if sp["kind"] == "card":
            assert luhn_ok(re.sub(r"\D", "", sp["text"])), sp
        if sp["kind"] == "iban":
            assert iban_ok(sp["text"].replace("-", "").upper()), sp
    lines.append({"text": text, "spans": spans, "group": "probe"})
for s in PROBE_NEG:
    lines.append({"text": s, "spans": [], "group": "probe_neg"})
for s in BLIND_POS:
    text, spans = render(s)
    assert spans, s
    for sp in spans:
        if sp["kind"] == "card":
            assert luhn_ok(re.sub(r"\D", "", sp["text"])), sp
        if sp["kind"] == "iban":
            assert iban_ok(sp["text"].replace("-", "").upper()), sp
    lines.append({"text": text, "spans": spans, "group": "blind"})
for s in BLIND_NEG:
    lines.append({"text": s, "spans": [], "group": "blind_neg"})
for group, items in NEG.items():
    for s in items:
        assert "{{" not in s
        lines.append({"text": s, "spans": [], "group": "neg_" + group})
for ln in lines:
    sys.stdout.write(json.dumps(ln, ensure_ascii=False) + "\n")
print("lines with personal data %d (spans %d), without %d" % (
    sum(1 for l in lines if l["spans"]), sum(len(l["spans"]) for l in lines),
    sum(1 for l in lines if not l["spans"])), file=sys.stderr)
