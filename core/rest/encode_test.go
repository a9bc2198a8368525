package rest

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// appendJSONString writes what encoding/json writes, for every kind of
// character it treats specially and for random bytes.
func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	cases := []string{"", "plain", `quote " backslash \ slash /`, "<script>&amp;</script>",
		"tab\tnl\nret\rbell\a\b\f\x00\x1f\x7f", "é ü 日本 🎉", "line\u2028para\u2029",
		"bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate", "trailing \xe2\x82"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	}
}
