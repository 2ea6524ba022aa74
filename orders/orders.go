package orders

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
)

// ErrNotFound is returned for an order number the store does not know.
var ErrNotFound = errors.New("orders: order not found")

// ErrNotAllowed is returned when the order's status forbids the action
// (cancelling or changing an order that has shipped, was delivered or was
// cancelled).
var ErrNotAllowed = errors.New("orders: not allowed for this order")

// ErrInvalidNumber is returned by ParseNumber for text that is not an order
// number.
var ErrInvalidNumber = errors.New("orders: not an order number")

// Status is where an order stands.
type Status string

// Order statuses.
const (
	StatusProcessing Status = "processing" // placed, not yet shipped: can be cancelled or changed
	StatusShipped    Status = "shipped"    // with the carrier
	StatusDelivered  Status = "delivered"
	StatusCancelled  Status = "cancelled"
)

// Item is one line of an order. Price is per unit, in minor units of the
// order's currency.
type Item struct {
	ProductID string `json:"product_id"`
	Title     string `json:"title"`
	Quantity  int    `json:"quantity"`
	Price     int64  `json:"price"`
}

// Address is a delivery address.
type Address struct {
	Name       string `json:"name,omitempty"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	PostalCode string `json:"postal_code"`
	City       string `json:"city"`
	Country    string `json:"country,omitempty"` // ISO 3166-1 alpha-2
}

// String writes the address on one line: "Lindenstraße 12, 10969 Berlin, DE".
func (a Address) String() string {
	parts := []string{a.Line1}
	if a.Line2 != "" {
		parts = append(parts, a.Line2)
	}
	parts = append(parts, strings.TrimSpace(a.PostalCode+" "+a.City))
	if a.Country != "" {
		parts = append(parts, a.Country)
	}
	return strings.Join(parts, ", ")
}

// Refund is the money going back for a cancelled or returned order.
type Refund struct {
	Status   string    `json:"status"` // "pending" or "issued"
	Amount   int64     `json:"amount"` // minor units
	IssuedAt time.Time `json:"issued_at,omitzero"`
}

// Order is one order as the chat sees it. Times are zero when the event has
// not happened.
type Order struct {
	Number            string    `json:"number"`
	Status            Status    `json:"status"`
	PlacedAt          time.Time `json:"placed_at"`
	ShippedAt         time.Time `json:"shipped_at,omitzero"`
	DeliveredAt       time.Time `json:"delivered_at,omitzero"`
	CancelledAt       time.Time `json:"cancelled_at,omitzero"`
	EstimatedDelivery string    `json:"estimated_delivery,omitempty"` // a date, YYYY-MM-DD
	Carrier           string    `json:"carrier,omitempty"`
	TrackingNumber    string    `json:"tracking_number,omitempty"`
	TrackingURL       string    `json:"tracking_url,omitempty"`
	Currency          string    `json:"currency"`
	DeliveryCost      int64     `json:"delivery_cost"` // minor units
	PaymentMethod     string    `json:"payment_method,omitempty"`
	Items             []Item    `json:"items"`
	ShippingAddress   Address   `json:"shipping_address"`
	Refund            *Refund   `json:"refund,omitempty"`
}

// Total is what the order costs: its items and the delivery, in minor
// units.
func (o Order) Total() int64 {
	t := o.DeliveryCost
	for _, it := range o.Items {
		t += int64(it.Quantity) * it.Price
	}
	return t
}

// Changeable reports whether the order may still be cancelled or changed:
// only before it ships.
func (o Order) Changeable() bool { return o.Status == StatusProcessing }

// Service is the store's order system.
type Service interface {
	// Get returns the order with this number, or ErrNotFound.
	Get(ctx context.Context, number string) (Order, error)
	// Cancel cancels an order that has not shipped and returns it as it is
	// now; ErrNotAllowed for any other status.
	Cancel(ctx context.Context, number string) (Order, error)
	// ChangeAddress sets the delivery address of an order that has not
	// shipped and returns it as it is now; ErrNotAllowed for any other
	// status.
	ChangeAddress(ctx context.Context, number string, addr Address) (Order, error)
}

// Order number lengths accepted by ParseNumber.
const (
	MinNumberDigits = 5
	MaxNumberDigits = 12
)

var (
	numberRe = regexp.MustCompile(`^(?i:#|no\.?\s*|nr\.?\s*)?\s*(\d+)$`)
	digitsRe = regexp.MustCompile(`\d+`)
)

// ParseNumber returns the order number s holds ("10231", "#10231", "no.
// 10231"), or ErrInvalidNumber.
func ParseNumber(s string) (string, error) {
	m := numberRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil || len(m[1]) < MinNumberDigits || len(m[1]) > MaxNumberDigits {
		return "", ErrInvalidNumber
	}
	return m[1], nil
}

// FindNumber looks for an order number in text. It returns the first run of
// MinNumberDigits to MaxNumberDigits digits not glued to letters (a
// model number such as "LC51C" is not an order number); failing that,
// malformed is the first free-standing digit run of another length ("I
// think it's 1234"), so the caller can say the number looks wrong.
func FindNumber(text string) (number, malformed string) {
	for _, loc := range digitsRe.FindAllStringIndex(text, -1) {
		if glued(text, loc[0]-1, -1) || glued(text, loc[1], 1) {
			continue
		}
		d := text[loc[0]:loc[1]]
		if len(d) >= MinNumberDigits && len(d) <= MaxNumberDigits {
			return d, ""
		}
		if malformed == "" {
			malformed = d
		}
	}
	return "", malformed
}

// glued reports whether the character at i, next to a digit run, makes the
// run part of a larger token: a letter ("LC51C"), or a '.' or ',' with
// another digit beyond it ("1.5", "1,000"). dir is the side: -1 left of the
// run, +1 right of it.
func glued(text string, i, dir int) bool {
	if i < 0 || i >= len(text) {
		return false
	}
	switch c := text[i]; {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return true
	case c == '.' || c == ',':
		j := i + dir
		return j >= 0 && j < len(text) && text[j] >= '0' && text[j] <= '9'
	}
	return false
}
