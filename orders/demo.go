package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Demo is an in-memory Service over a fixed list of orders.
type Demo struct {
	mu     sync.Mutex
	orders map[string]Order
	now    func() time.Time
}

var _ Service = (*Demo)(nil)

// LoadDemo reads a JSON array of orders (the format of Order) and returns a
// Demo serving them. Order numbers must be valid (ParseNumber) and unique.
func LoadDemo(data []byte) (*Demo, error) {
	var list []Order
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("orders: decode: %w", err)
	}
	d := &Demo{orders: make(map[string]Order, len(list)), now: time.Now}
	for i, o := range list {
		n, err := ParseNumber(o.Number)
		if err != nil || n != o.Number {
			return nil, fmt.Errorf("orders: order %d: number %q: %w", i, o.Number, ErrInvalidNumber)
		}
		if _, dup := d.orders[n]; dup {
			return nil, fmt.Errorf("orders: order number %s appears twice", n)
		}
		switch o.Status {
		case StatusProcessing, StatusShipped, StatusDelivered, StatusCancelled:
		default:
			return nil, fmt.Errorf("orders: order %s: unknown status %q", n, o.Status)
		}
		d.orders[n] = o
	}
	return d, nil
}

// Len is the number of orders.
func (d *Demo) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.orders)
}

// Get implements Service.
func (d *Demo) Get(ctx context.Context, number string) (Order, error) {
	if err := ctx.Err(); err != nil {
		return Order{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.orders[number]
	if !ok {
		return Order{}, fmt.Errorf("%w: %s", ErrNotFound, number)
	}
	return clone(o), nil
}

// Cancel implements Service: the order becomes cancelled with a pending
// refund of its total.
func (d *Demo) Cancel(ctx context.Context, number string) (Order, error) {
	return d.change(ctx, number, func(o *Order) {
		o.Status = StatusCancelled
		o.CancelledAt = d.now().UTC()
		o.Refund = &Refund{Status: "pending", Amount: o.Total()}
	})
}

// ChangeAddress implements Service. The recipient's name is kept when addr
// has none.
func (d *Demo) ChangeAddress(ctx context.Context, number string, addr Address) (Order, error) {
	return d.change(ctx, number, func(o *Order) {
		if addr.Name == "" {
			addr.Name = o.ShippingAddress.Name
		}
		o.ShippingAddress = addr
	})
}

func (d *Demo) change(ctx context.Context, number string, fn func(*Order)) (Order, error) {
	if err := ctx.Err(); err != nil {
		return Order{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.orders[number]
	if !ok {
		return Order{}, fmt.Errorf("%w: %s", ErrNotFound, number)
	}
	if !o.Changeable() {
		return clone(o), fmt.Errorf("%w: order %s is %s", ErrNotAllowed, number, o.Status)
	}
	o = clone(o)
	fn(&o)
	d.orders[number] = o
	return clone(o), nil
}

// clone copies the slices and pointers of o so callers cannot change the
// stored order.
func clone(o Order) Order {
	o.Items = append([]Item(nil), o.Items...)
	if o.Refund != nil {
		r := *o.Refund
		o.Refund = &r
	}
	return o
}
