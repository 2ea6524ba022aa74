package llm_test

import (
	"errors"
	"testing"

	"github.com/shopassist/shopassist/llm"
)

var headphones = llm.Request{
	Question: "Noise cancelling headphones under $300 for order 55123?",
	Products: []llm.Product{
		{ID: "101", Title: "Sony WH-1000XM4 Wireless Headphones", Brand: "Sony", Price: 249.99, Currency: "USD",
			Attributes: map[string]string{"battery": "30 h", "codec": "LDAC"}},
		{ID: "102", Title: "Bose QuietComfort 45", Brand: "Bose", Price: 1299, Currency: "USD", Name: "QC45"},
		{ID: "103", Title: "Samsung LC51C Monitor 15.6 inch 2 TB", Brand: "Samsung", Price: 49.5, Currency: "EUR"},
	},
	Policies: []llm.Passage{{Title: "Shipping", Text: "Standard delivery costs 4.95 and is free over 50 EUR. Returns use form RMA-22B."}},
	History: []llm.Message{
		{Role: "shopper", Text: "My order A7731X never came"},
		{Role: "bot", Text: "Sorry, the JBL T760NC is out of stock."},
	},
}

func TestCheckGrounded(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		grounded     bool
	}{
		// Grounded.
		{"title and id", "The Sony WH-1000XM4 Wireless Headphones [101] fit your budget.", true},
		{"model code without hyphen", "The WH1000XM4 has 30 hours of battery.", true},
		{"model name attribute", "The QC45 is the quietest.", true},
		{"code in title", "The LC51C is a monitor.", true},
		{"prices in several formats", "It costs $249.99, the Bose $1,299.00 (1299 USD), the monitor 49,50 €.", true},
		{"European thousands", "The Bose costs 1.299,00 USD.", true},
		{"budget from the question", "Both are under $300.", true},
		{"fee and threshold from a policy", "Delivery is €4.95, free over 50 EUR; use form RMA-22B.", true},
		{"order number from the question", "Order 55123 has shipped.", true},
		{"order code from an earlier shopper turn", "Order A7731X is on its way.", true},
		{"quantities", "It has a 15.6-inch screen, 2 TB, 2TB or 16GB/512GB, 30-day returns, 1080p, the 3rd one, a 2-in-1, 4K, 1920x1080.", true},
		{"quantities in other languages", "Der Monitor hat 15,6 Zoll, 16Go de RAM, 3-fach, 24h Lieferung.", true},
		{"technical terms", "It supports USB-C, USB3, MP3, Wi-Fi 6, WiFi6, Bluetooth 5.3, DDR5, IP68, 5G, 802.11ax.", true},
		{"no products, honest", "I don't know; shall I pass you to a colleague?", true},
		{"markdown link text", "See [details](https://shop.example/101).", true},
		{"price within a cent", "The Sony is $250.", true},
		{"numbers without currency", "It weighs 250 g and lasts 30 hours.", true},

		// Ungrounded.
		{"unknown id", "Try the Sony [999].", false},
		{"footnote-style citation", "It is quiet [1].", false},
		{"invented model code", "The Sony WH-1000XM5 is even better.", false},
		{"invented code letters-number", "Consider the RTX-4090 laptop.", false},
		{"code only a bot turn mentioned", "The JBL T760NC is back.", false},
		{"wrong price", "The Sony costs $199.99.", false},
		{"rounded price", "The Sony is about $240.", false},
		{"price after amount", "The monitor is 59.90 EUR.", false},
		{"price in words", "Only 20 dollars.", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := llm.CheckGrounded(tc.answer, headphones, nil)
			if tc.grounded && err != nil {
				t.Errorf("%q: %v, want grounded", tc.answer, err)
			}
			if !tc.grounded && !errors.Is(err, llm.ErrUngrounded) {
				t.Errorf("%q: err = %v, want ErrUngrounded", tc.answer, err)
			}
		})
	}
}

func TestCheckGroundedWithNames(t *testing.T) {
	catalogue := names{"101": "WH-1000XM4", "102": "QuietComfort", "201": "WH-1000XM5", "202": "Zephyr"}
	req := headphones
	req.Question = "Do you have the Zephyr headphones?"
	for _, tc := range []struct {
		answer   string
		grounded bool
	}{
		{"The Sony WH-1000XM4 and the Bose QuietComfort 45 both qualify.", true},
		// The shopper named it; saying it was not found is grounded.
		{"Sorry, we have no Zephyr headphones; the Bose QuietComfort 45 is close.", true},
		// With Names the code heuristic is off: an unknown code passes.
		{"The XYZ-900 is not in our shop.", true},
		{"The WH-1000XM5 is better.", false},
		{"Try [201].", false},
		{"The Bose QuietComfort costs $1,199.", false},
	} {
		err := llm.CheckGrounded(tc.answer, req, catalogue)
		if tc.grounded != (err == nil) || (err != nil && !errors.Is(err, llm.ErrUngrounded)) {
			t.Errorf("%q: err = %v, want grounded=%v", tc.answer, err, tc.grounded)
		}
	}
}

func FuzzCheckGrounded(f *testing.F) {
	for _, s := range []string{"The WH-1000XM4 costs $249.99.", "€1.299,00 [101]", "[", "1,2,3,4 EUR", "€ 9\u00a0999,99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, answer string) {
		err := llm.CheckGrounded(answer, headphones, nil)
		if err != nil && !errors.Is(err, llm.ErrUngrounded) {
			t.Fatalf("%q: error %v does not wrap ErrUngrounded", answer, err)
		}
	})
}
