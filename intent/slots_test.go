package intent

import (
	"reflect"
	"testing"
)

var testBrands = []string{"Lenovo", "DELL", "HP", "Brother", "StarTech.com", "TP-LINK", "Kingston Technology", "Case Logic", "Sharp", "Philips", "Sony", "Intel", "", "Lenovo"}

func TestExtractSlots(t *testing.T) {
	x := NewSlotExtractor(testBrands)
	cases := []struct {
		text string
		want Slots
	}{
		// Prices.
		{"laptop under $800", Slots{MaxPrice: 80000, Currency: "USD", Terms: []string{"laptop"}, Type: "laptop"}},
		{"below 50 euros", Slots{MaxPrice: 5000, Currency: "EUR", Amount: 5000}},
		{"between 20 and 50 euros", Slots{MinPrice: 2000, MaxPrice: 5000, Currency: "EUR"}},
		{"$20-$50", Slots{MinPrice: 2000, MaxPrice: 5000, Currency: "USD"}},
		{"20 to 50", Slots{MinPrice: 2000, MaxPrice: 5000}},
		{"from €20 to €49.99", Slots{MinPrice: 2000, MaxPrice: 4999, Currency: "EUR"}},
		{"less than 1000", Slots{MaxPrice: 100000, Amount: 100000}},
		{"over 100", Slots{MinPrice: 10000, Amount: 10000}},
		{"at least 1,000 euros", Slots{MinPrice: 100000, Currency: "EUR", Amount: 100000}},
		{"around 300", Slots{MinPrice: 24000, MaxPrice: 36000, Amount: 30000}},
		{"headphones 50€ or less", Slots{MaxPrice: 5000, Currency: "EUR", Terms: []string{"headphones"}, Type: "headphones"}},
		{"a €500 tablet", Slots{MaxPrice: 50000, Currency: "EUR", Terms: []string{"tablet"}, Type: "tablet"}},
		{"my budget is 1.5k", Slots{MaxPrice: 150000, Amount: 150000}},
		{"printer for £200", Slots{MaxPrice: 20000, Currency: "GBP", Terms: []string{"printer"}, Type: "printer"}},
		{"800", Slots{Terms: []string{"800"}, Amount: 80000}},
		{"€800", Slots{MaxPrice: 80000, Currency: "EUR", Amount: 80000}},
		{"hp 61 ink", Slots{Brands: []string{"HP"}, Terms: []string{"61", "ink"}, Type: "ink"}},
		{"speaker for 2 people", Slots{Terms: []string{"speaker", "2", "people"}, Type: "speaker"}},
		// Brands.
		{"Lenovo or Dell", Slots{Brands: []string{"Lenovo", "DELL"}}},
		{"only lenovo", Slots{Brands: []string{"Lenovo"}}},
		{"also Dell", Slots{Brands: []string{"DELL"}, BrandsAdded: true}},
		{"dell too", Slots{Brands: []string{"DELL"}, BrandsAdded: true}},
		{"startech usb cable", Slots{Brands: []string{"StarTech.com"}, Terms: []string{"usb", "cable"}, Type: "cable"}},
		{"tp link router", Slots{Brands: []string{"TP-LINK"}, Terms: []string{"router"}, Type: "router"}},
		{"tplink router", Slots{Brands: []string{"TP-LINK"}, Terms: []string{"router"}, Type: "router"}},
		{"kingston memory card", Slots{Brands: []string{"Kingston Technology"}, Terms: []string{"memory", "card"}, Type: "memory"}},
		{"case logic camera bag", Slots{Brands: []string{"Case Logic"}, Terms: []string{"camera", "bag"}, Type: "bag"}},
		{"toner for my Brother printer", Slots{Terms: []string{"toner", "brother", "printer"}, Type: "toner"}},
		{"Brother toner", Slots{Brands: []string{"Brother"}, Terms: []string{"toner"}, Type: "toner"}},
		{"a gift for my brother", Slots{Generic: true}},
		{"sharp pencil", Slots{Terms: []string{"sharp", "pencil"}}},
		{"laptop but not HP", Slots{Terms: []string{"laptop"}, Type: "laptop"}},
		{"battery for lenovo laptops", Slots{Terms: []string{"battery", "lenovo", "laptops"}, Type: "battery"}},
		{"laptop with Intel processor", Slots{Terms: []string{"laptop", "intel", "processor"}, Type: "laptop"}},
		// Colours and sizes.
		{"any in black?", Slots{Colors: []string{"black"}}},
		{"gray or silver", Slots{Colors: []string{"grey", "silver"}}},
		{`15.6 inch laptop`, Slots{Sizes: []string{"15.6"}, Terms: []string{"laptop"}, Type: "laptop"}},
		{`27" monitor`, Slots{Sizes: []string{"27"}, Terms: []string{"monitor"}, Type: "monitor"}},
		{"27in monitor", Slots{Sizes: []string{"27"}, Terms: []string{"monitor"}, Type: "monitor"}},
		{"external hard drive 2tb", Slots{Sizes: []string{"2tb"}, Terms: []string{"external", "hard", "drive"}, Type: "storage"}},
		{"2 TB ssd", Slots{Sizes: []string{"2tb"}, Terms: []string{"ssd"}, Type: "storage"}},
		{"laptop 15 in black", Slots{Sizes: []string{"15"}, Colors: []string{"black"}, Terms: []string{"laptop"}, Type: "laptop"}},
		// Needs, gifts, preferences.
		{"a laptop", Slots{Terms: []string{"laptop"}, Type: "laptop"}},
		{"laptop bag", Slots{Terms: []string{"laptop", "bag"}, Type: "bag"}},
		{"do you have wireless headphones?", Slots{Terms: []string{"wireless", "headphones"}, Type: "headphones"}},
		{"something for my dad", Slots{Generic: true}},
		{"a birthday present for my wife, maybe headphones", Slots{Terms: []string{"headphones"}, Type: "headphones"}},
		{"stapler", Slots{Terms: []string{"stapler"}}},
		{"cheaper ones", Slots{}},
		{"the second one", Slots{}},
		{"compare the first two", Slots{}},
		{"show me more", Slots{}},
		{"any brand", Slots{AnyBrand: true}},
		{"no budget", Slots{AnyPrice: true}},
		{"any colour is fine", Slots{AnyColour: true}},
		{"doesn't matter", Slots{NoPreference: true}},
		{"anything", Slots{NoPreference: true}},
		{"", Slots{}},
	}
	for _, tc := range cases {
		got := x.Extract(tc.text)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.text, got, tc.want)
		}
	}
}

func TestNilExtractorFindsNoBrands(t *testing.T) {
	var x *SlotExtractor
	got := x.Extract("Lenovo laptop under 500")
	want := Slots{MaxPrice: 50000, Terms: []string{"lenovo", "laptop"}, Type: "laptop"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestParseNumber(t *testing.T) {
	for in, want := range map[string]float64{"800": 800, "19.99": 19.99, "19,99": 19.99, "1,000": 1000, "1.299,00": 1299, "1,299.50": 1299.5, "1k": 1000, "1.5k": 1500, "1.000.000": 1e6} {
		if got, ok := parseNumber(in); !ok || got != want {
			t.Errorf("parseNumber(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "k", "abc", "12a", ".5", "99999999999999999999", "2000000000k"} {
		if _, ok := parseNumber(in); ok {
			t.Errorf("parseNumber(%q) accepted", in)
		}
	}
}

func FuzzExtractSlots(f *testing.F) {
	for _, s := range []string{"laptop under $800", "between 20 and 50 euros", `27" monitor`, "Lenovo or Dell", "€", "1,2,3", "-5 to -3", "''", "ab’cd", "around 99999999999999999999 dollars"} {
		f.Add(s)
	}
	x := NewSlotExtractor(testBrands)
	f.Fuzz(func(t *testing.T, text string) {
		s := x.Extract(text)
		if s.MinPrice < 0 || s.MaxPrice < 0 {
			t.Fatalf("negative price in %+v", s)
		}
	})
}

func BenchmarkExtractSlots(b *testing.B) {
	x := NewSlotExtractor(testBrands)
	b.ReportAllocs()
	for b.Loop() {
		x.Extract("do you have a Lenovo laptop in black under $800, 15.6 inch?")
	}
}
