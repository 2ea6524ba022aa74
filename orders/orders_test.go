package orders

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopassist/shopassist/demodata"
)

func TestParseNumber(t *testing.T) {
	for in, want := range map[string]string{
		"10231": "10231", " #10231 ": "10231", "no. 10231": "10231", "Nr 10231": "10231",
		"123456789012": "123456789012",
	} {
		got, err := ParseNumber(in)
		if err != nil || got != want {
			t.Errorf("ParseNumber(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1234", "1234567890123", "10231a", "abc", "10 231", "#", "-10231"} {
		if got, err := ParseNumber(in); !errors.Is(err, ErrInvalidNumber) {
			t.Errorf("ParseNumber(%q) = %q, %v; want ErrInvalidNumber", in, got, err)
		}
	}
}

func TestFindNumber(t *testing.T) {
	cases := []struct{ text, number, malformed string }{
		{"where is my order 10231?", "10231", ""},
		{"order #10187 please", "10187", ""},
		{"It's 10187.", "10187", ""},
		{"10187", "10187", ""},
		{"I think it is 1234", "", "1234"},
		{"the number is 1234 or maybe 10231", "10231", "1234"},
		{"my Brother LC51C cartridge", "", ""},
		{"it cost 1,299.00 euros", "", ""},
		{"model 12345x", "", ""},
		{"I don't know it", "", ""},
		{"order 1234567890123", "", "1234567890123"},
	}
	for _, tc := range cases {
		n, m := FindNumber(tc.text)
		if n != tc.number || (tc.number == "" && m != tc.malformed) {
			t.Errorf("FindNumber(%q) = %q, %q; want %q, %q", tc.text, n, m, tc.number, tc.malformed)
		}
	}
}

func demo(t *testing.T) *Demo {
	t.Helper()
	d, err := LoadDemo(demodata.Orders())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDemoOrders(t *testing.T) {
	d := demo(t)
	if d.Len() != 20 {
		t.Fatalf("%d demo orders, want 20", d.Len())
	}
	ctx := context.Background()
	counts := map[Status]int{}
	for _, n := range []string{"10231", "10232", "10233", "10234", "10235", "10236", "10187", "10188", "10190", "10192", "10195", "10198", "10142", "10145", "10151", "10160", "10163", "10170", "10120", "10127"} {
		o, err := d.Get(ctx, n)
		if err != nil {
			t.Fatalf("order %s: %v", n, err)
		}
		counts[o.Status]++
		if len(o.Items) == 0 || o.Total() <= 0 || o.Currency != "EUR" || o.ShippingAddress.City == "" {
			t.Errorf("order %s incomplete: %+v", n, o)
		}
		if o.Status == StatusShipped || o.Status == StatusDelivered {
			if o.Carrier == "" || o.TrackingNumber == "" || o.ShippedAt.IsZero() {
				t.Errorf("order %s %s without carrier, tracking or ship date", n, o.Status)
			}
		}
	}
	if counts[StatusProcessing] == 0 || counts[StatusShipped] == 0 || counts[StatusDelivered] == 0 || counts[StatusCancelled] == 0 {
		t.Errorf("statuses %v: want each of the four", counts)
	}
	if _, err := d.Get(ctx, "99999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown order: %v", err)
	}
}

func TestDemoCancelAndChangeAddress(t *testing.T) {
	d := demo(t)
	d.now = func() time.Time { return time.Date(2025, 11, 27, 10, 0, 0, 0, time.UTC) }
	ctx := context.Background()

	before, _ := d.Get(ctx, "10231")
	o, err := d.Cancel(ctx, "10231")
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != StatusCancelled || o.CancelledAt.IsZero() || o.Refund == nil || o.Refund.Amount != before.Total() {
		t.Fatalf("cancelled order %+v", o)
	}
	if again, _ := d.Get(ctx, "10231"); again.Status != StatusCancelled {
		t.Fatalf("cancel not kept: %s", again.Status)
	}
	if _, err := d.Cancel(ctx, "10231"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("cancelling twice: %v", err)
	}
	if _, err := d.Cancel(ctx, "10187"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("cancelling a shipped order: %v", err)
	}
	if _, err := d.Cancel(ctx, "99999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("cancelling an unknown order: %v", err)
	}

	addr := Address{Line1: "Oranienstraße 7", PostalCode: "10997", City: "Berlin", Country: "DE"}
	o, err = d.ChangeAddress(ctx, "10232", addr)
	if err != nil {
		t.Fatal(err)
	}
	if o.ShippingAddress.Line1 != addr.Line1 || o.ShippingAddress.Name != "Jonas Weber" {
		t.Fatalf("address after change %+v", o.ShippingAddress)
	}
	if _, err := d.ChangeAddress(ctx, "10142", addr); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("changing a delivered order: %v", err)
	}
	// Callers get copies.
	o.Items[0].Quantity = 99
	if again, _ := d.Get(ctx, "10232"); again.Items[0].Quantity == 99 {
		t.Error("Get returned the stored order's items")
	}
}

func TestLoadDemoRejectsBadFiles(t *testing.T) {
	for name, data := range map[string]string{
		"not json":      `{`,
		"bad number":    `[{"number":"12","status":"processing"}]`,
		"duplicate":     `[{"number":"12345","status":"processing"},{"number":"12345","status":"shipped"}]`,
		"bad status":    `[{"number":"12345","status":"lost"}]`,
		"number prefix": `[{"number":"#12345","status":"processing"}]`,
	} {
		if _, err := LoadDemo([]byte(data)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}
