package chat

import (
	"reflect"
	"testing"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/intent"
	"github.com/shopassist/shopassist/orders"
	"github.com/shopassist/shopassist/retrieval"
)

var slotx = intent.NewSlotExtractor([]string{"Lenovo", "DELL", "HP", "Logitech", "Sony"})

// TestIsNewNeed is the decision table for "does this product search start
// a new need or refine the current one?".
func TestIsNewNeed(t *testing.T) {
	laptops := dialogState{Need: "laptop", Type: "laptop"}
	speakers := dialogState{Need: "bluetooth speaker", Type: "speaker"}
	untyped := dialogState{Need: "stapler"}
	cases := []struct {
		st   dialogState
		text string
		want bool
	}{
		{dialogState{}, "laptop", true},
		{dialogState{}, "under 800", false}, // nothing to search for: no need yet
		{laptops, "under 800", false},
		{laptops, "only Lenovo", false},
		{laptops, "any in black?", false},
		{laptops, "Lenovo or Dell", false},
		{laptops, "15.6 inch", false},
		{laptops, "a printer", true},
		{laptops, "lenovo laptops then", false}, // same type
		{laptops, "gaming notebook", false},     // same type, another word for it
		{laptops, "wireless ones", false},       // refinement cue
		{laptops, "with a backlit keyboard", true},
		{speakers, "with bluetooth", false},
		{speakers, "waterproof ones", false},
		{speakers, "stapler", true},
		{speakers, "headphones", true},
		{untyped, "heavy duty ones", false},
		{untyped, "staples", true},
		{laptops, "cheaper ones", false},
		{laptops, "the second one", false},
	}
	for _, tc := range cases {
		got := isNewNeed(tc.st, slotx.Extract(tc.text), tc.text)
		if got != tc.want {
			t.Errorf("need %q, %q: new need = %v, want %v (slots %+v)", tc.st.Need, tc.text, got, tc.want, slotx.Extract(tc.text))
		}
	}
}

func TestFiltersApply(t *testing.T) {
	f := filters{MaxPrice: 80000, Brands: []string{"Lenovo"}, Colors: []string{"black"}}
	f.apply(slotx.Extract("also Dell"))
	if !reflect.DeepEqual(f.Brands, []string{"Lenovo", "DELL"}) {
		t.Errorf("also Dell: brands %v", f.Brands)
	}
	f.apply(slotx.Extract("only HP"))
	if !reflect.DeepEqual(f.Brands, []string{"HP"}) {
		t.Errorf("only HP: brands %v", f.Brands)
	}
	f.apply(slotx.Extract("between 20 and 50 euros in white"))
	if f.MinPrice != 2000 || f.MaxPrice != 5000 || !reflect.DeepEqual(f.Colors, []string{"white"}) {
		t.Errorf("range and colour: %+v", f)
	}
	f.apply(slotx.Extract("any brand, any price and any colour"))
	if f.any() {
		t.Errorf("after dropping every filter: %+v", f)
	}
}

func TestQueryCarriesTheState(t *testing.T) {
	st := dialogState{Need: "laptop", Filters: filters{MinPrice: 100, MaxPrice: 80000, Brands: []string{"Lenovo"}, Colors: []string{"black"}, Sizes: []string{"15.6"}, Terms: []string{"gaming"}}}
	q := st.query(24)
	if q.Text != "laptop gaming 15.6 black" || q.K != 24 || q.Filter.MinPrice != 100 || q.Filter.MaxPrice != 80000 || !reflect.DeepEqual(q.Filter.Brands, []string{"Lenovo"}) {
		t.Fatalf("query %+v", q)
	}
	// The query owns its brands.
	q.Filter.Brands[0] = "x"
	if st.Filters.Brands[0] != "Lenovo" {
		t.Fatal("query shares the state's brand slice")
	}
}

func TestParseFollowUp(t *testing.T) {
	cases := []struct {
		text string
		want followUp
		ok   bool
	}{
		{"show more", followUp{kind: "more"}, true},
		{"more", followUp{kind: "more"}, true},
		{"Show me more results please", followUp{kind: "more"}, true},
		{"next page", followUp{kind: "more"}, true},
		{"cheaper ones", followUp{kind: "cheaper"}, true},
		{"anything less expensive?", followUp{kind: "cheaper"}, true},
		{"these are too expensive", followUp{kind: "cheaper"}, true},
		{"something more expensive", followUp{kind: "pricier"}, true},
		{"the second one", followUp{kind: "detail", items: []int{2}}, true},
		{"tell me more about the first one", followUp{kind: "detail", items: []int{1}}, true},
		{"#3", followUp{kind: "detail", items: []int{3}}, true},
		{"number 4 please", followUp{kind: "detail", items: []int{4}}, true},
		{"the last one", followUp{kind: "detail", items: []int{8}}, true},
		{"2", followUp{kind: "detail", items: []int{2}}, true},
		{"compare the first two", followUp{kind: "compare", items: []int{1, 2}}, true},
		{"compare the top 3", followUp{kind: "compare", items: []int{1, 2, 3}}, true},
		{"compare 1 and 3", followUp{kind: "compare", items: []int{1, 3}}, true},
		{"the second vs the last", followUp{kind: "compare", items: []int{2, 8}}, true},
		{"which one is better, the first or the third?", followUp{kind: "compare", items: []int{1, 3}}, true},
		{"compare them", followUp{kind: "compare", items: []int{1, 2}}, true},
		{"laptop", followUp{}, false},
		{"where is my order", followUp{}, false},
		{"15 inch", followUp{}, false},
	}
	for _, tc := range cases {
		got, ok := parseFollowUp(tc.text, 8)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v %v, want %+v %v", tc.text, got, ok, tc.want, tc.ok)
		}
	}
}

func TestYesNo(t *testing.T) {
	for text, want := range map[string]int{
		"yes": 1, "Yes, cancel it": 1, "yep!": 1, "sure": 1, "ok go ahead": 1, "please do": 1, "cancel it": 1,
		"no": -1, "No, keep it": -1, "nope": -1, "never mind": -1, "don't": -1, "I changed my mind": -1,
		"what?": 0, "how much is shipping": 0, "": 0,
	} {
		if got := yesNo(text); got != want {
			t.Errorf("yesNo(%q) = %d, want %d", text, got, want)
		}
	}
}

func TestFlowFromText(t *testing.T) {
	for text, want := range map[string]string{
		"I want to cancel my order 10231":       "cancel",
		"change the address for 10231":          "change_address",
		"refund for order 10231?":               "refund_status",
		"can I change order 10231":              "change_order",
		"where is 10231":                        "track",
		"status of my parcel 10231":             "track",
		"HP 12345 toner cartridge":              "",
		"do you have the Brother TN 2320 toner": "",
	} {
		if got := flowFromText(text); got != want {
			t.Errorf("flowFromText(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestParseAddress(t *testing.T) {
	cases := []struct {
		text string
		want orders.Address
		ok   bool
	}{
		{"Oranienstraße 7, 10997 Berlin", orders.Address{Line1: "Oranienstraße 7", PostalCode: "10997", City: "Berlin"}, true},
		{"Keizersgracht 5\n1015 cj Amsterdam\nNL", orders.Address{Line1: "Keizersgracht 5", PostalCode: "1015 CJ", City: "Amsterdam", Country: "NL"}, true},
		{"12 rue des Lilas, Bâtiment B, 69003 Lyon, FR", orders.Address{Line1: "12 rue des Lilas", Line2: "Bâtiment B", PostalCode: "69003", City: "Lyon", Country: "FR"}, true},
		{"350 Fifth Avenue, New York 10118", orders.Address{Line1: "350 Fifth Avenue", PostalCode: "10118", City: "New York"}, true},
		{"Berlin", orders.Address{}, false},
		{"Oranienstraße, 10997 Berlin", orders.Address{}, false}, // no house number
		{"yes please", orders.Address{}, false},
	}
	for _, tc := range cases {
		got, ok := parseAddress(tc.text)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%q: got %+v %v, want %+v %v", tc.text, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPolicyQuestion(t *testing.T) {
	for text, want := range map[string]bool{
		"do you have a warranty?":         true,
		"what about refunds":              true,
		"laptop with 3 year warranty":     false, // a product with a property
		"Lenovo warranty":                 false,
		"bluetooth speaker":               false,
		"shipping":                        true,
		"headphones under 50 with refund": false,
	} {
		if got := policyQuestion(slotx.Extract(text)); got != want {
			t.Errorf("policyQuestion(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestBudgetChipsAndAmounts(t *testing.T) {
	got := budgetChips([]int64{1995, 2595, 3595, 3795, 5745, 5795, 11795, 11995}, "EUR")
	want := []string{"Under €50", "€50–€100", "Over €100", "Any price"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("chips %v, want %v", got, want)
	}
	if got := budgetChips([]int64{4000, 4500, 5000, 5500, 6000}, "EUR"); !reflect.DeepEqual(got, []string{"Under €50", "€50–€100", "Over €100", "Any price"}) {
		t.Errorf("chips of close prices %v", got)
	}
	for minor, want := range map[int64]int64{100: 200, 5000: 10000, 10000: 20000, 20000: 50000, 90000: 100000} {
		if got := nextRound(minor); got != want {
			t.Errorf("nextRound(%d) = %d, want %d", minor, got, want)
		}
	}
	if got := budgetChips([]int64{995, 995, 995}, "USD"); !reflect.DeepEqual(got, []string{"Under $10", "Over $10", "Any price"}) {
		t.Errorf("chips of equal prices %v", got)
	}
	for minor, want := range map[int64]int64{50: 100, 1490: 1000, 3400: 2000, 3600: 5000, 74900: 50000, 80000: 100000, 149900: 100000, 160000: 200000} {
		if got := roundPrice(minor); got != want {
			t.Errorf("roundPrice(%d) = %d, want %d", minor, got, want)
		}
	}
	for minor, want := range map[int64]string{80000: "€800", 1999: "€19.99", 100: "€1"} {
		if got := formatAmount(minor, "EUR"); got != want {
			t.Errorf("formatAmount(%d) = %q, want %q", minor, got, want)
		}
	}
	if got := describeFilters(filters{MinPrice: 2000, MaxPrice: 5000, Brands: []string{"Lenovo", "DELL", "HP"}, Colors: []string{"black"}}, "EUR"); got != " between €20 and €50 from Lenovo, DELL or HP in black" {
		t.Errorf("describeFilters: %q", got)
	}
}

func TestDialogStateRoundTrip(t *testing.T) {
	st := dialogState{Need: "laptop", Type: "laptop", Filters: filters{MaxPrice: 80000}, Results: []string{"1", "2"},
		Pending: &pending{Kind: pendingConfirm, Flow: "change_address", Order: "10232", Address: &orders.Address{Line1: "A 1", PostalCode: "10997", City: "Berlin"}}}
	got := loadDialog(map[string]string{metaDialog: st.encode()})
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, st)
	}
	if got := loadDialog(map[string]string{metaDialog: "{not json"}); !reflect.DeepEqual(got, dialogState{}) {
		t.Fatalf("unreadable state gave %+v", got)
	}
}

func TestClarifyBudget(t *testing.T) {
	s := &Server{cfg: Config{}.withDefaults()}
	hits := func(prices ...int64) []retrieval.Hit {
		var hs []retrieval.Hit
		for _, p := range prices {
			hs = append(hs, retrieval.Hit{Product: &catalog.Product{Price: p, Currency: "EUR"}})
		}
		return hs
	}
	narrow := hits(2000, 2500, 3000, 3500)
	wide := hits(995, 2000, 5000, 12000)
	cases := []struct {
		name string
		st   dialogState
		hits []retrieval.Hit
		ask  bool
	}{
		{"bare broad type", dialogState{Need: "laptop", Type: "laptop"}, narrow, true},
		{"bare narrow type, prices close", dialogState{Need: "mouse", Type: "mouse"}, narrow, false},
		{"bare word, tenfold price range", dialogState{Need: "cable", Type: "cable"}, wide, true},
		{"two words, tenfold range", dialogState{Need: "usb cable", Type: "cable"}, wide, false},
		{"a budget already", dialogState{Need: "laptop", Type: "laptop", Filters: filters{MaxPrice: 80000}}, narrow, false},
		{"a brand already", dialogState{Need: "laptop", Type: "laptop", Filters: filters{Brands: []string{"Lenovo"}}}, narrow, false},
		{"asked once already", dialogState{Need: "laptop", Type: "laptop", Clarified: true}, narrow, false},
		{"no results", dialogState{Need: "laptop", Type: "laptop"}, nil, false},
	}
	for _, tc := range cases {
		st := tc.st
		rep, ask := s.clarifyBudget(&st, tc.hits)
		if ask != tc.ask {
			t.Errorf("%s: asked %v", tc.name, ask)
			continue
		}
		if !ask {
			continue
		}
		if st.Pending == nil || st.Pending.Kind != pendingClarify || st.Pending.Field != "budget" || !st.Clarified || len(rep.suggestions) == 0 || rep.items != nil {
			t.Errorf("%s: state %+v, reply %+v", tc.name, st, rep)
		}
	}
	st := dialogState{Need: "cable", Type: "cable"}
	if rep, _ := s.clarifyBudget(&st, wide); rep.text != "I found quite different things for “cable”, from €9.95 to €120. What's your budget?" {
		t.Errorf("mixed results question %q", rep.text)
	}
}

func TestHandoffCue(t *testing.T) {
	for text, want := range map[string]string{
		"Talk to a person":                       "contact_human_agent",
		"can I speak to a real person please":    "contact_human_agent",
		"I want a human":                         "contact_human_agent",
		"get me a customer service agent":        "contact_human_agent",
		"this is ridiculous, I want to complain": "complaint",
		"I have a complaint about my order":      "complaint",
		"bluetooth speaker":                      "",
		"personal computer":                      "",
		"a gift for a person who likes music":    "",
	} {
		if got := handoffCue(text); got != want {
			t.Errorf("handoffCue(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestBrandNames(t *testing.T) {
	got := BrandNames([]catalog.Product{{Brand: "HP"}, {Brand: ""}, {Brand: "Lenovo"}, {Brand: "HP"}})
	if !reflect.DeepEqual(got, []string{"HP", "Lenovo"}) {
		t.Fatalf("BrandNames = %v", got)
	}
}
