package chat

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzDecodeClientFrame(f *testing.F) {
	for _, seed := range []string{
		`{"type":"hello"}`,
		`{"type":"hello","session_id":"abc","user_id":"u"}`,
		`{"type":"message","id":"1","text":"bluetooth speaker"}`,
		`{"type":"message","id":"1","text":""}`,
		`{"type":"message","id":1,"text":"x"}`,
		`{"type":"nope"}`,
		`{"type":"event","event":{"type":"click","product_id":"1"}}`,
		`{"type":"event","event":[1]}`,
		`{"type":"feedback","message_id":"m_1","rating":1}`,
		`{"type":"feedback","message_id":"m_1","rating":-1,"comment":"wrong size"}`,
		`{"type":"feedback","message_id":"m_1","rating":2}`,
		`{"type":"feedback","rating":1}`,
		`[]`, `null`, `"str"`, ``, `{`, "{\"type\":\"message\",\"text\":\"\xff\"}",
		`{"type":"message","id":"1","text":"` + strings.Repeat("é", 3000) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeClientFrame(data)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code == "" || pe.Message == "" {
				t.Fatalf("error %v is not a ProtocolError with a code and message", err)
			}
			return
		}
		if !utf8.Valid(data) {
			t.Fatal("accepted invalid UTF-8")
		}
		switch fr.Type {
		case TypeHello:
		case TypeEvent:
			if len(fr.Event) == 0 || strings.TrimSpace(string(fr.Event))[0] != '{' {
				t.Fatalf("accepted event frame without an event object: %q", data)
			}
		case TypeMessage:
			if fr.ID == "" || strings.TrimSpace(fr.Text) == "" || len(fr.Text) > MaxTextBytes {
				t.Fatalf("accepted invalid message %+v", fr)
			}
		case TypeFeedback:
			if fr.MessageID == "" || (fr.Rating != 1 && fr.Rating != -1) || len(fr.Comment) > MaxTextBytes {
				t.Fatalf("accepted invalid feedback %+v", fr)
			}
		default:
			t.Fatalf("accepted type %q", fr.Type)
		}
	})
}
