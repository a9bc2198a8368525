package password_test

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"manouche/core/password"
)

func TestHashRoundTrip(t *testing.T) {
	t.Parallel()
	h := password.Fast()
	for _, plain := range []string{"correct horse battery staple", "", "Élodie-ß-密码", strings.Repeat("x", password.MaxBytes)} {
		enc, err := h.Hash(plain)
		if err != nil {
			t.Fatalf("Hash(%d bytes): %v", len(plain), err)
		}
		if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Fatalf("unexpected encoding %q", enc)
		}
		if ok, err := password.Check(plain, enc); !ok || err != nil {
			t.Fatalf("Check(right password) = %v, %v", ok, err)
		}
		wrong := "!" + plain[min(1, len(plain)):]
		if ok, err := password.Check(wrong, enc); ok || err != nil {
			t.Fatalf("Check(wrong password) = %v, %v", ok, err)
		}
		again, _ := h.Hash(plain)
		if again == enc {
			t.Fatal("two hashes of one password are equal: no salt?")
		}
	}
}

func TestDefaultHash(t *testing.T) {
	t.Parallel()
	enc, err := password.Hash("s3cret-Pass")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("Default parameters changed: %q", enc)
	}
	if ok, err := password.Check("s3cret-Pass", enc); !ok || err != nil {
		t.Fatalf("Check = %v, %v", ok, err)
	}
	if password.NeedsRehash(enc) {
		t.Fatal("a fresh default hash needs no rehash")
	}
}

func TestTooLong(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", password.MaxBytes+1)
	if _, err := password.Fast().Hash(long); !errors.Is(err, password.ErrTooLong) {
		t.Fatalf("Hash: %v, want ErrTooLong", err)
	}
	enc, _ := password.Fast().Hash("a")
	if ok, err := password.Check(long, enc); ok || !errors.Is(err, password.ErrTooLong) {
		t.Fatalf("Check: %v %v, want ErrTooLong", ok, err)
	}
}

func djangoPBKDF2(plain, salt string, iter int) string {
	k, _ := pbkdf2.Key(sha256.New, plain, []byte(salt), iter, 32)
	return fmt.Sprintf("pbkdf2_sha256$%d$%s$%s", iter, salt, base64.StdEncoding.EncodeToString(k))
}

func TestCheckOtherFormats(t *testing.T) {
	t.Parallel()
	plain := "hunter2-but-longer"
	bc, err := bcrypt.GenerateFromPassword([]byte(plain), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(plain))
	bcSHA, _ := bcrypt.GenerateFromPassword(fmt.Appendf(nil, "%x", sum), bcrypt.MinCost)
	argonDjango, _ := password.Fast().Hash(plain)
	tests := []struct{ name, encoded string }{
		{"bcrypt", string(bc)},
		{"bcrypt $2y$", "$2y$" + strings.TrimPrefix(string(bc), "$2a$")},
		{"django bcrypt", "bcrypt$" + string(bc)},
		{"django bcrypt_sha256", "bcrypt_sha256$" + string(bcSHA)},
		{"django argon2", "argon2" + argonDjango},
		{"django pbkdf2_sha256", djangoPBKDF2(plain, "RandomSalt123", 1000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if ok, err := password.Check(plain, tc.encoded); !ok || err != nil {
				t.Fatalf("right password: %v %v", ok, err)
			}
			if ok, err := password.Check("Hunter2-but-longer", tc.encoded); ok || err != nil {
				t.Fatalf("wrong password: %v %v", ok, err)
			}
			if !password.NeedsRehash(tc.encoded) {
				t.Fatal("a non-default hash must need a rehash")
			}
		})
	}
}

// A known vector: Django 3.2's make_password("correct horse", "seasalt",
// "pbkdf2_sha256") with 260000 iterations, computed by Python's
// hashlib.pbkdf2_hmac.
func TestCheckDjangoPBKDF2Vector(t *testing.T) {
	t.Parallel()
	const enc = "pbkdf2_sha256$260000$seasalt$" + djangoVector
	if ok, err := password.Check("correct horse", enc); !ok || err != nil {
		t.Fatalf("Check = %v, %v", ok, err)
	}
}

func TestCheckMalformed(t *testing.T) {
	t.Parallel()
	good, _ := password.Fast().Hash("x")
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=..., salt, key
	tests := []struct {
		name    string
		encoded string
		want    error
	}{
		{"unknown algorithm", "md5$abc$def", password.ErrUnknownFormat},
		{"plain text", "hunter2", password.ErrUnknownFormat},
		{"argon2id missing fields", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA", password.ErrMalformed},
		{"argon2id bad version", strings.Replace(good, "v=19", "v=16", 1), password.ErrMalformed},
		{"argon2id bad params", strings.Replace(good, "m=64,t=1,p=1", "m=x,t=1,p=1", 1), password.ErrMalformed},
		{"argon2id zero iterations", strings.Replace(good, "t=1", "t=0", 1), password.ErrMalformed},
		{"argon2id zero parallelism", strings.Replace(good, "p=1", "p=0", 1), password.ErrMalformed},
		{"argon2id huge memory", strings.Replace(good, "m=64", "m=4294967295", 1), password.ErrMalformed},
		{"argon2id bad salt", "$argon2id$v=19$m=64,t=1,p=1$!!!$" + parts[5], password.ErrMalformed},
		{"argon2id empty key", "$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$", password.ErrMalformed},
		{"bcrypt truncated", "$2a$10$abc", password.ErrMalformed},
		{"bcrypt bad cost", "$2a$99$" + strings.Repeat("a", 53), password.ErrMalformed},
		{"pbkdf2 fields", "pbkdf2_sha256$1000$salt", password.ErrMalformed},
		{"pbkdf2 iterations", "pbkdf2_sha256$-5$salt$aGFzaA==", password.ErrMalformed},
		{"pbkdf2 huge iterations", "pbkdf2_sha256$99999999999$salt$aGFzaA==", password.ErrMalformed},
		{"pbkdf2 digest", "pbkdf2_sha256$1000$salt$not base64", password.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, err := password.Check("x", tc.encoded)
			if ok || !errors.Is(err, tc.want) {
				t.Fatalf("Check = %v, %v; want false, %v", ok, err, tc.want)
			}
			if !password.NeedsRehash(tc.encoded) {
				t.Fatal("a malformed hash must need a rehash")
			}
		})
	}
}

func TestUnusable(t *testing.T) {
	t.Parallel()
	u := password.Unusable()
	for _, enc := range []string{u, ""} {
		if ok, err := password.Check("", enc); ok || err != nil {
			t.Fatalf("Check(%q) = %v, %v; want false, nil", enc, ok, err)
		}
	}
	if u == password.Unusable() {
		t.Fatal("Unusable values must differ")
	}
}

func TestHasherRejectsBadParams(t *testing.T) {
	t.Parallel()
	for _, p := range []password.Params{
		{},
		{Memory: 64, Iterations: 1, Parallelism: 0, SaltLength: 16, KeyLength: 32},
		{Memory: 64, Iterations: 0, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 0, KeyLength: 32},
	} {
		if _, err := (password.Hasher{Params: p}).Hash("x"); err == nil {
			t.Errorf("Hash with %+v must fail", p)
		}
	}
}

func TestNeedsRehashOnParamChange(t *testing.T) {
	t.Parallel()
	enc, _ := password.Fast().Hash("x")
	if password.Fast().NeedsRehash(enc) {
		t.Fatal("same parameters need no rehash")
	}
	if !password.NeedsRehash(enc) {
		t.Fatal("Fast hash must need a rehash under Default")
	}
}

func TestDummy(t *testing.T) {
	t.Parallel()
	password.Fast().Dummy(strings.Repeat("x", password.MaxBytes*2)) // must not panic on any input
}

func BenchmarkHashDefault(b *testing.B) {
	for b.Loop() {
		if _, err := password.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckDefault(b *testing.B) {
	enc, _ := password.Hash("correct horse battery staple")
	for b.Loop() {
		if ok, _ := password.Check("correct horse battery staple", enc); !ok {
			b.Fatal("mismatch")
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	attrs := map[string]string{"email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe"}
	password.Validate("warm-up", nil)
	for b.Loop() {
		password.Validate("Xk9#mQ2!vL-horse", attrs)
	}
}
