package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The rules of Django's default AUTH_PASSWORD_VALIDATORS, in Django's order.
const (
	// MinLength is MinimumLengthValidator's default min_length.
	MinLength = 8
	// MaxLength is the longest password Validate accepts, in characters; it
	// keeps every valid password under MaxBytes.
	MaxLength = MaxBytes / utf8.UTFMax
	// MaxSimilarity is UserAttributeSimilarityValidator's default.
	MaxSimilarity = 0.7
)

// The messages Validate returns, in Django's wording (MsgTooLong is ours:
// Django sets no maximum).
const (
	MsgTooShort = "This password is too short. It must contain at least 8 characters."
	MsgTooLong  = "This password is too long. It must contain at most 1024 characters."
	MsgCommon   = "This password is too common."
	MsgNumeric  = "This password is entirely numeric."
)

// MsgTooSimilar returns the similarity message for an attribute's verbose
// name, e.g. "The password is too similar to the email.".
func MsgTooSimilar(verboseName string) string {
	return fmt.Sprintf("The password is too similar to the %s.", verboseName)
}

// defaultAttributes are UserAttributeSimilarityValidator's
// DEFAULT_USER_ATTRIBUTES, in its order, with the verbose names of the
// users app's model. (Django's stock User calls its email field "email
// address"; this project's API says "email".)
var defaultAttributes = []struct{ key, verbose string }{
	{"username", "username"},
	{"first_name", "first name"},
	{"last_name", "last name"},
	{"email", "email"},
}

// Validate checks a new password against Django's default validators and
// returns their messages, empty when the password is acceptable:
// UserAttributeSimilarityValidator (against attrs: "email", "first_name",
// "last_name", "username"; other keys are compared too, after those, named
// by their key with underscores as spaces), MinimumLengthValidator(8),
// CommonPasswordValidator (Django's list of 20,000 common passwords) and
// NumericPasswordValidator, plus a maximum of MaxLength characters.
func Validate(plain string, attrs map[string]string) []string {
	var msgs []string
	if name, ok := tooSimilar(plain, attrs); ok {
		msgs = append(msgs, MsgTooSimilar(name))
	}
	n := utf8.RuneCountInString(plain)
	if n < MinLength {
		msgs = append(msgs, MsgTooShort)
	}
	if n > MaxLength || len(plain) > MaxBytes {
		msgs = append(msgs, MsgTooLong)
	}
	if IsCommon(plain) {
		msgs = append(msgs, MsgCommon)
	}
	if isDigits(plain) {
		msgs = append(msgs, MsgNumeric)
	}
	return msgs
}

// tooSimilar ports UserAttributeSimilarityValidator.validate: the lowered
// password is compared with each attribute and each of its \W+-separated
// parts by difflib's SequenceMatcher.quick_ratio.
func tooSimilar(plain string, attrs map[string]string) (verbose string, similar bool) {
	if len(attrs) == 0 {
		return "", false
	}
	pw := []rune(strings.ToLower(plain))
	check := func(value string) bool {
		if value == "" {
			return false
		}
		lower := strings.ToLower(value)
		for _, part := range append(splitNonWord(lower), lower) {
			v := []rune(part)
			if exceedsMaximumLengthRatio(len(pw), len(v)) {
				continue
			}
			if quickRatio(pw, v) >= MaxSimilarity {
				return true
			}
		}
		return false
	}
	for _, a := range defaultAttributes {
		if check(attrs[a.key]) {
			return a.verbose, true
		}
	}
	var extra []string
	for k := range attrs {
		if !slices.ContainsFunc(defaultAttributes, func(a struct{ key, verbose string }) bool { return a.key == k }) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		if check(attrs[k]) {
			return strings.ReplaceAll(k, "_", " "), true
		}
	}
	return "", false
}

// exceedsMaximumLengthRatio ports Django's shortcut: a value far shorter than
// the password cannot reach max_similarity, so it is not compared.
func exceedsMaximumLengthRatio(pwdLen, valueLen int) bool {
	lengthBoundSimilarity := MaxSimilarity / 2 * float64(pwdLen)
	return pwdLen >= 10*valueLen && float64(valueLen) < lengthBoundSimilarity
}

// quickRatio is difflib.SequenceMatcher(a=a, b=b).quick_ratio(): twice the
// size of the multiset intersection of a's and b's characters over their
// total length (1.0 for two empty sequences).
func quickRatio(a, b []rune) float64 {
	if len(a)+len(b) == 0 {
		return 1.0
	}
	counts := make(map[rune]int, len(b))
	for _, r := range b {
		counts[r]++
	}
	matches := 0
	for _, r := range a {
		if counts[r] > 0 {
			counts[r]--
			matches++
		}
	}
	return 2.0 * float64(matches) / float64(len(a)+len(b))
}

// splitNonWord is Python's re.split(r'\W+', s) on a str: word characters are
// letters, digits (any script) and the underscore; like Python it keeps the
// empty strings before a leading and after a trailing separator.
func splitNonWord(s string) []string {
	isWord := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }
	var parts []string
	start, inSep := 0, false
	for i, r := range s {
		if isWord(r) {
			if inSep {
				start, inSep = i, false
			}
			continue
		}
		if !inSep {
			parts = append(parts, s[start:i])
			inSep = true
		}
	}
	if inSep {
		parts = append(parts, "")
	} else {
		parts = append(parts, s[start:])
	}
	return parts
}

// isDigits is Python's str.isdigit: non-empty and every character a digit.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// commonPasswords is django/contrib/auth/common-passwords.txt.gz from Django
// 3.2 (BSD-3-Clause, see common-passwords.LICENSE): 20,000 common passwords
// compiled by Royce Williams, lowercased and deduplicated (19,727 lines).
//
//go:embed common-passwords.txt.gz
var commonPasswordsGz []byte

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		panic("password: embedded common-passwords.txt.gz: " + err.Error()) // the build is broken
	}
	set := make(map[string]struct{}, 20000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if p := strings.TrimSpace(sc.Text()); p != "" {
			set[p] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		panic("password: embedded common-passwords.txt.gz: " + err.Error())
	}
	return set
})

// IsCommon reports whether plain, lowered and trimmed, is in Django's list
// of common passwords (CommonPasswordValidator).
func IsCommon(plain string) bool {
	_, ok := commonPasswords()[strings.TrimSpace(strings.ToLower(plain))]
	return ok
}

// CommonCount returns the number of passwords in the embedded list.
func CommonCount() int { return len(commonPasswords()) }
