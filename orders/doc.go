// Package orders is the chat's window on the store's orders: the Service
// interface the customer-service flows use (look an order up, cancel it,
// change its delivery address), the order-number format, and Demo, an
// in-memory implementation over a JSON file of orders (the demo store ships
// demodata.Orders).
//
// A store plugs in its own order system by implementing Service. Its
// methods return ErrNotFound (wrapped or not) for an unknown order number,
// ErrNotAllowed for an action the order's status forbids (cancelling a
// shipped order), and any other error for a backend failure; the chat
// answers the first two in words and the last with an error frame.
//
// # Order numbers
//
// ParseNumber accepts 5 to 12 digits, optionally prefixed by "#" or "no.",
// the format of the demo store and of most shop systems. FindNumber looks
// for one inside a sentence ("where is order #10231?") and also reports a
// digit run of the wrong length, so the chat can say that the number looks
// wrong before looking it up.
//
// # Demo
//
// Demo keeps the orders in memory: Cancel and ChangeAddress change that copy
// only, so a restart starts from the file again. It is safe for concurrent
// use; every call is a map look-up under a mutex.
package orders
