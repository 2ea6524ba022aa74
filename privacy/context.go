package privacy

// ctxClass is what the words just before a number say about it.
type ctxClass uint8

const (
	ctxUnknown ctxClass = iota // not computed yet
	ctxNone
	ctxPhone  // "call", "tel", "mobile" …: any 7–15 digit number is a phone number
	ctxNumber // only "number", "nr" …: a weak phone hint
	ctxCard   // "card", "visa" …: an EAN-looking 13-digit number is a card
	ctxRef    // "order", "invoice", "customer" …: not a phone number
	ctxCode   // "EAN", "IMEI", "tracking" …: neither a phone number nor a bare card
)

// contextWords are matched against the lower-cased core of the words
// before a number, nearest first.
var contextWords = map[string]ctxClass{}

// transparentWords neither decide the context nor count towards the
// window ("my number is", "call me at").
var transparentWords = map[string]bool{}

func init() {
	for class, words := range map[ctxClass]string{
		ctxPhone: "phone telephone tel tél tlf telefon telefoon telefono teléfono téléphone telemóvel mobile mobil " +
			"mobiel móvil movil cell cellphone cellulare handy portable call calling ring text txt msg sms whatsapp fax " +
			"rückruf ruf anrufen llámame llamar chiamami chiamare appelez-moi appeler zadzwoń komórka gsm fixe " +
			"fijo festnetz landline reach contact dial",
		ctxNumber: "number nummer numéro numero número no nr num",
		ctxCard: "card visa mastercard amex cc credit debit karte kreditkarte carte tarjeta carta cb maestro " +
			"discover jcb diners unionpay",
		ctxRef: "order orders ordered invoice ticket ref reference bestellnummer bestellung auftrag commande pedido " +
			"ordine model part sku item article art artikel product case rma customer kundennummer account id " +
			"code voucher coupon pin po lot batch room flight train receipt transaction booking reservation " +
			"contract policy version firmware build mpn",
		ctxCode: "ean gtin upc isbn asin barcode imei serial sn tracking track parcel package shipment consignment " +
			"sendungsnummer sendung colis",
	} {
		for _, w := range splitFields(words) {
			contextWords[w] = class
		}
	}
	for _, w := range splitFields("is are was my me on at the a an to of for our your his her its it's this here " +
		"new old and or oder ou y e und ist est es mein meine meiner mon ma mi mio il le la al au de du van op " +
		"am unter via please pls # : - = → > n° nº") {
		transparentWords[w] = true
	}
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}

// contextWindow is how many deciding-or-not words before a number are read.
const contextWindow = 3

// context classifies the words before byte i. It reads back over at most
// contextWindow words (transparent words not counted, 3×contextWindow words
// in all) on the same line and
// stops at a word holding a digit, an '@', a replacement token or text
// already found, and at the end of a previous sentence; the nearest
// keyword decides, "number" only when nothing else does. A number right
// after a word mixing letters and digits continues a code (ctxCode).
func (f *finder) context(i int) ctxClass {
	var buf [32]byte
	weak := false
	for counted, read := 0, 0; counted < contextWindow && read < 3*contextWindow; read++ {
		w, ok := f.wordBefore(i)
		if !ok || w.stop {
			break
		}
		i = w.start
		core := w.core(f.s)
		if hasDigit(core) {
			if read == 0 && hasLetter(core) {
				return ctxCode // the rest of a code: "1Z 999 AA1 01 2345 6784"
			}
			break
		}
		lw := lower(buf[:], core)
		if core == "" {
			lw = lower(buf[:], f.s[w.start:w.end]) // "#", ":", "-"
		}
		if class, ok := contextWords[string(lw)]; ok {
			if class != ctxNumber {
				return class
			}
			weak = true
			continue
		}
		if transparentWords[string(lw)] {
			continue
		}
		// A word closing an earlier sentence ends the context.
		if t := w.trail(f.s); t != "" && (t[0] == '.' || t[0] == '!' || t[0] == '?' || t[0] == ';') {
			break
		}
		counted++
	}
	if weak {
		return ctxNumber
	}
	return ctxNone
}
