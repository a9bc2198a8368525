// Package password hashes and checks passwords and validates new ones with
// the rules of Django's default AUTH_PASSWORD_VALIDATORS.
//
// New hashes are argon2id (github.com/alexedwards/argon2id), in the PHC
// string format "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>". Check also
// accepts the formats a team moving from Django brings along, so its users
// keep their passwords and are rehashed at their next login (see
// NeedsRehash):
//
//   - "$argon2id$..." (this package) and Django's "argon2$argon2id$...";
//   - bcrypt "$2a$", "$2b$", "$2y$" and Django's "bcrypt$..." and
//     "bcrypt_sha256$..." (golang.org/x/crypto/bcrypt);
//   - Django's default "pbkdf2_sha256$..." and "pbkdf2_sha1$...".
//
// A login handler typically does:
//
//	ok, err := password.Check(plain, u.Password)
//	if ok && password.NeedsRehash(u.Password) {
//		u.Password, err = password.Hash(plain) // then save it
//	}
//
// and, when no user has the email, calls Default().Dummy(plain) so that the
// answer takes as long as for a wrong password (Django does the same).
package password

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // verifying Django's legacy pbkdf2_sha1 hashes only
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/alexedwards/argon2id"
	"golang.org/x/crypto/bcrypt"
)

// MaxBytes is the longest password Hash and Check accept, in bytes. It keeps
// the cost of hashing bounded whatever a client sends.
const MaxBytes = 4096

var (
	// ErrTooLong is returned by Hash and Check for passwords over MaxBytes.
	ErrTooLong = fmt.Errorf("password: longer than %d bytes", MaxBytes)
	// ErrUnknownFormat is returned by Check for an encoded hash of an
	// algorithm it does not know.
	ErrUnknownFormat = errors.New("password: unknown hash format")
	// ErrMalformed is wrapped by Check's error for an encoded hash of a known
	// algorithm that cannot be decoded or has parameters out of bounds.
	ErrMalformed = errors.New("password: malformed hash")
)

// Params are argon2id's cost parameters.
type Params struct {
	// Memory in KiB.
	Memory uint32
	// Iterations (time cost).
	Iterations uint32
	// Parallelism (lanes).
	Parallelism uint8
	// SaltLength and KeyLength in bytes.
	SaltLength uint32
	KeyLength  uint32
}

// Hasher makes argon2id hashes with its Params.
type Hasher struct {
	Params Params
}

// Default returns the Hasher for production: argon2id with m=19 MiB, t=2,
// p=1 (OWASP's recommended minimum), 16-byte salt, 32-byte key. One check
// took 40-80 ms on a busy 2-core machine (BenchmarkCheckDefault), less than
// Django's default PBKDF2. Memory bounds concurrent logins: 10 at once
// use about 190 MiB.
func Default() Hasher {
	return Hasher{Params: Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}}
}

// Fast returns a Hasher with the cheapest argon2id parameters (64 KiB, one
// pass), for tests and fixtures only: it makes brute force cheap.
func Fast() Hasher {
	return Hasher{Params: Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}
}

// Hash returns the argon2id hash of plain with Default parameters.
func Hash(plain string) (string, error) { return Default().Hash(plain) }

// NeedsRehash reports whether encoded should be replaced by a fresh hash
// with Default parameters (after a successful Check).
func NeedsRehash(encoded string) bool { return Default().NeedsRehash(encoded) }

// Hash returns the argon2id hash of plain in PHC string format.
func (h Hasher) Hash(plain string) (string, error) {
	if len(plain) > MaxBytes {
		return "", ErrTooLong
	}
	if err := h.Params.check(); err != nil {
		return "", fmt.Errorf("password: hash: %w", err)
	}
	p := h.Params
	s, err := argon2id.CreateHash(plain, &argon2id.Params{
		Memory: p.Memory, Iterations: p.Iterations, Parallelism: p.Parallelism,
		SaltLength: p.SaltLength, KeyLength: p.KeyLength,
	})
	if err != nil {
		return "", fmt.Errorf("password: hash: %w", err)
	}
	return s, nil
}

// NeedsRehash reports whether encoded is anything other than an argon2id
// hash in this package's format with exactly h's parameters.
func (h Hasher) NeedsRehash(encoded string) bool {
	if !strings.HasPrefix(encoded, "$argon2id$") {
		return true
	}
	p, salt, key, err := argon2id.DecodeHash(encoded)
	if err != nil {
		return true
	}
	return p.Memory != h.Params.Memory || p.Iterations != h.Params.Iterations ||
		p.Parallelism != h.Params.Parallelism || uint32(len(salt)) != h.Params.SaltLength ||
		uint32(len(key)) != h.Params.KeyLength
}

// Dummy hashes plain and throws the result away. Call it when a login names
// no user, so that it costs as much as a wrong password and its timing does
// not tell which emails have accounts.
func (h Hasher) Dummy(plain string) {
	if len(plain) > MaxBytes {
		plain = plain[:MaxBytes]
	}
	_, _ = h.Hash(plain)
}

// Unusable returns an encoded value that no password matches (Django's
// set_unusable_password), for accounts that log in another way.
func Unusable() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "!" + base64.RawURLEncoding.EncodeToString(b)
}

// Bounds on the parameters Check accepts from an encoded hash, so that a
// corrupt or hostile value in the database cannot make one check allocate
// gigabytes or run for minutes.
const (
	maxArgonMemory     = 1 << 20 // KiB: 1 GiB
	maxArgonIterations = 64
	maxKeyLength       = 1024
	maxPBKDF2Iter      = 10_000_000
)

func (p Params) check() error {
	switch {
	case p.Iterations < 1 || p.Iterations > maxArgonIterations:
		return fmt.Errorf("argon2id iterations %d out of [1, %d]", p.Iterations, maxArgonIterations)
	case p.Parallelism < 1:
		return errors.New("argon2id parallelism must be at least 1")
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxArgonMemory:
		return fmt.Errorf("argon2id memory %d KiB out of [%d, %d]", p.Memory, 8*uint32(p.Parallelism), maxArgonMemory)
	case p.SaltLength < 8 || p.SaltLength > maxKeyLength:
		return fmt.Errorf("argon2id salt length %d out of [8, %d]", p.SaltLength, maxKeyLength)
	case p.KeyLength < 16 || p.KeyLength > maxKeyLength:
		return fmt.Errorf("argon2id key length %d out of [16, %d]", p.KeyLength, maxKeyLength)
	}
	return nil
}

// Check reports whether plain matches encoded, in constant time with respect
// to the key. A wrong password is (false, nil); an empty encoded value or an
// unusable one (starting with "!") is (false, nil) too. An encoded value that
// cannot be decoded is (false, error wrapping ErrMalformed or
// ErrUnknownFormat); a password over MaxBytes is (false, ErrTooLong).
func Check(plain, encoded string) (ok bool, err error) {
	if encoded == "" || strings.HasPrefix(encoded, "!") {
		return false, nil
	}
	if len(plain) > MaxBytes {
		return false, ErrTooLong
	}
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		return checkArgon2id(plain, encoded)
	case strings.HasPrefix(encoded, "argon2$argon2id$"): // Django
		return checkArgon2id(plain, strings.TrimPrefix(encoded, "argon2"))
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		return checkBcrypt([]byte(plain), encoded)
	case strings.HasPrefix(encoded, "bcrypt$"): // Django's BCryptPasswordHasher
		return checkBcrypt([]byte(plain), strings.TrimPrefix(encoded, "bcrypt$"))
	case strings.HasPrefix(encoded, "bcrypt_sha256$"): // Django's BCryptSHA256PasswordHasher
		sum := sha256.Sum256([]byte(plain))
		return checkBcrypt([]byte(hex.EncodeToString(sum[:])), strings.TrimPrefix(encoded, "bcrypt_sha256$"))
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"):
		return checkPBKDF2(sha256.New, plain, encoded)
	case strings.HasPrefix(encoded, "pbkdf2_sha1$"):
		return checkPBKDF2(sha1.New, plain, encoded)
	}
	return false, ErrUnknownFormat
}

func checkArgon2id(plain, encoded string) (bool, error) {
	p, salt, key, err := argon2id.DecodeHash(encoded)
	if err != nil {
		return false, fmt.Errorf("%w: argon2id: %w", ErrMalformed, err)
	}
	params := Params{Memory: p.Memory, Iterations: p.Iterations, Parallelism: p.Parallelism,
		SaltLength: uint32(len(salt)), KeyLength: uint32(len(key))}
	if err := params.check(); err != nil {
		return false, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	ok, err := argon2id.ComparePasswordAndHash(plain, encoded)
	if err != nil {
		return false, fmt.Errorf("%w: argon2id: %w", ErrMalformed, err)
	}
	return ok, nil
}

// checkBcrypt verifies a bcrypt hash. bcrypt only reads the first 72 bytes
// of a password; hashes made elsewhere were made from those, so longer
// passwords are compared on them too (NeedsRehash then moves the user to
// argon2id, which reads every byte).
func checkBcrypt(plain []byte, encoded string) (bool, error) {
	if len(plain) > 72 {
		plain = plain[:72]
	}
	if _, err := bcrypt.Cost([]byte(encoded)); err != nil {
		return false, fmt.Errorf("%w: bcrypt: %w", ErrMalformed, err)
	}
	err := bcrypt.CompareHashAndPassword([]byte(encoded), plain)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("%w: bcrypt: %w", ErrMalformed, err)
	}
}

// checkPBKDF2 verifies Django's "pbkdf2_<digest>$<iterations>$<salt>$<b64>".
func checkPBKDF2(h func() hash.Hash, plain, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 {
		return false, fmt.Errorf("%w: pbkdf2: want 4 fields, got %d", ErrMalformed, len(parts))
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > maxPBKDF2Iter {
		return false, fmt.Errorf("%w: pbkdf2: iterations %q out of [1, %d]", ErrMalformed, parts[1], maxPBKDF2Iter)
	}
	want, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil || len(want) == 0 || len(want) > maxKeyLength {
		return false, fmt.Errorf("%w: pbkdf2: bad digest", ErrMalformed)
	}
	got, err := pbkdf2.Key(h, plain, []byte(parts[2]), iter, len(want))
	if err != nil {
		return false, fmt.Errorf("%w: pbkdf2: %w", ErrMalformed, err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
