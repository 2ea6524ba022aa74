package privacy

// luhn reports whether the ASCII digits pass the Luhn (mod 10) check.
func luhn(digits []byte) bool {
	sum := 0
	for i := range digits {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// ean13 reports whether 13 ASCII digits carry a valid EAN-13 (GTIN-13)
// check digit.
func ean13(digits []byte) bool {
	if len(digits) != 13 {
		return false
	}
	sum := 0
	for i := 0; i < 12; i++ {
		d := int(digits[i] - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return (10-sum%10)%10 == int(digits[12]-'0')
}

// cardPrefix reports whether the number's leading digits (IIN) and length
// belong to a card network: Visa, Mastercard, American Express, Discover,
// JCB, Diners Club, UnionPay, Maestro, Mir, RuPay.
func cardPrefix(d []byte) bool {
	n := len(d)
	p := func(k int) int {
		v := 0
		for _, c := range d[:k] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	p2, p3, p4 := p(2), p(3), p(4)
	between := func(v, lo, hi int) bool { return v >= lo && v <= hi }
	switch {
	case d[0] == '4': // Visa
		return n == 13 || n == 16 || n == 19
	case between(p2, 51, 55), between(p4, 2221, 2720): // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case between(p4, 2200, 2204): // Mir
		return n >= 16
	case between(p3, 300, 305), p4 == 3095, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return n >= 14
	case between(p4, 3528, 3589): // JCB
		return n >= 16
	case p4 == 6011, between(p3, 644, 649), p2 == 65, p2 == 62, p2 == 60: // Discover, UnionPay, RuPay
		return n >= 16
	case p2 == 50, between(p2, 56, 59), p2 == 63, between(p2, 66, 69): // Maestro
		return true
	}
	return false
}
