package catalog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// StoreFile is the name of the catalogue file in the data dir.
const StoreFile = "catalog.db"

var (
	bucketProducts = []byte("products") // id -> seq (8 bytes, big endian) + encoded product
	bucketOrder    = []byte("order")    // seq -> id: the order products were first added
)

// Store is the prepared catalogue persisted in the data dir: a bbolt file
// holding every product in its binary encoding, in the order products were
// first added. It is safe for concurrent use; one process at a time may
// open it (a second OpenStore waits up to a second, then fails).
type Store struct {
	db *bolt.DB
}

// Changes reports what an Upsert or Prune did, by product id.
type Changes struct {
	Added     []string `json:"added,omitempty"`
	Updated   []string `json:"updated,omitempty"`
	Unchanged int      `json:"unchanged"`
	Removed   []string `json:"removed,omitempty"`
}

// OpenStore opens (creating it and dataDir when needed) dataDir/catalog.db.
func OpenStore(dataDir string) (*Store, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("catalog: data dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dataDir, StoreFile), 0o644, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("catalog: open store: %s is in use by another process (a running `assistant serve`? send feeds to its POST /api/catalog instead): %w", filepath.Join(dataDir, StoreFile), err)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: open store: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketProducts); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketOrder)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog: init store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the store file.
func (s *Store) Close() error { return s.db.Close() }

// Len is the number of products stored.
func (s *Store) Len() (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketProducts).Stats().KeyN
		return nil
	})
	return n, err
}

// Get returns the product with the id.
func (s *Store) Get(id string) (Product, bool, error) {
	var p Product
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketProducts).Get([]byte(id))
		if v == nil {
			return nil
		}
		found = true
		if len(v) < 8 {
			return errCodec
		}
		return decodeProduct(v[8:], &p, nil)
	})
	return p, found, err
}

// Each calls fn for every product in the order they were first added. The
// Product is reused between calls: copy it to keep it. fn must not use the
// store.
func (s *Store) Each(fn func(*Product) error) error {
	names := map[string]string{}
	var p Product
	return s.db.View(func(tx *bolt.Tx) error {
		prods := tx.Bucket(bucketProducts)
		return tx.Bucket(bucketOrder).ForEach(func(_, id []byte) error {
			v := prods.Get(id)
			if len(v) < 8 {
				return fmt.Errorf("catalog: store order names missing product %q", id)
			}
			if err := decodeProduct(v[8:], &p, names); err != nil {
				return fmt.Errorf("catalog: product %q: %w", id, err)
			}
			return fn(&p)
		})
	})
}

// All returns every product in the order they were first added; it is what
// `serve` loads at start.
func (s *Store) All() ([]Product, error) {
	n, err := s.Len()
	if err != nil {
		return nil, err
	}
	out := make([]Product, 0, n)
	err = s.Each(func(p *Product) error {
		out = append(out, *p)
		return nil
	})
	return out, err
}

// Upsert adds new products and replaces changed ones in one transaction;
// a product encoding to the same bytes as the stored one is unchanged.
// Products keep the position they were first added at.
func (s *Store) Upsert(ps []Product) (Changes, error) {
	var ch Changes
	if len(ps) == 0 {
		return ch, nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		ch = Changes{}
		prods, order := tx.Bucket(bucketProducts), tx.Bucket(bucketOrder)
		for i := range ps {
			p := &ps[i]
			if p.ID == "" {
				return errors.New("catalog: upsert of a product without id")
			}
			id := []byte(p.ID)
			// A fresh buffer per product: bbolt keeps it until commit.
			val := encodeProduct(make([]byte, 8, 512), p)
			if old := prods.Get(id); len(old) >= 8 {
				if bytes.Equal(old[8:], val[8:]) {
					ch.Unchanged++
					continue
				}
				copy(val, old[:8])
				ch.Updated = append(ch.Updated, p.ID)
			} else {
				seq, err := order.NextSequence()
				if err != nil {
					return err
				}
				binary.BigEndian.PutUint64(val, seq)
				if err := order.Put(val[:8], id); err != nil {
					return err
				}
				ch.Added = append(ch.Added, p.ID)
			}
			if err := prods.Put(id, val); err != nil {
				return err
			}
		}
		return nil
	})
	return ch, err
}

// Delete removes products by id; unknown ids are ignored. It returns the
// ids removed.
func (s *Store) Delete(ids []string) ([]string, error) {
	var removed []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		removed = removed[:0]
		prods, order := tx.Bucket(bucketProducts), tx.Bucket(bucketOrder)
		for _, id := range ids {
			v := prods.Get([]byte(id))
			if v == nil {
				continue
			}
			if len(v) >= 8 {
				if err := order.Delete(v[:8]); err != nil {
					return err
				}
			}
			if err := prods.Delete([]byte(id)); err != nil {
				return err
			}
			removed = append(removed, id)
		}
		return nil
	})
	return removed, err
}

// Prune removes every product for whose id keep returns false and returns
// the ids removed.
func (s *Store) Prune(keep func(id string) bool) ([]string, error) {
	var gone []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProducts).ForEach(func(k, _ []byte) error {
			if !keep(string(k)) {
				gone = append(gone, string(k))
			}
			return nil
		})
	})
	if err != nil || len(gone) == 0 {
		return nil, err
	}
	return s.Delete(gone)
}
