package settings

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Size is a number of bytes, written as a plain integer or with a unit:
// "5MB", "512KB", "1GiB". KB/MB/GB are powers of 1024, like Django's
// FILE_UPLOAD_MAX_MEMORY_SIZE habits and most upload limits.
type Size int64

// Rate is a throttle rate such as "10/min": at most Count requests per Period.
type Rate struct {
	Count  int
	Period time.Duration
}

// String renders the rate the way it is written in settings.
func (r Rate) String() string {
	if r.Count == 0 {
		return ""
	}
	name := map[time.Duration]string{time.Second: "sec", time.Minute: "min", time.Hour: "hour", 24 * time.Hour: "day"}[r.Period]
	if name == "" {
		name = r.Period.String()
	}
	return fmt.Sprintf("%d/%s", r.Count, name)
}

// ParseRate reads "N/sec", "N/min", "N/hour" or "N/day" (Django REST
// framework's throttle rate syntax; only the first letter of the period counts).
func ParseRate(s string) (Rate, error) {
	count, period, ok := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.Atoi(count)
	if !ok || err != nil || n < 1 || period == "" {
		return Rate{}, fmt.Errorf("%q is not a rate: write it as N/sec, N/min, N/hour or N/day", s)
	}
	var d time.Duration
	switch period[0] {
	case 's':
		d = time.Second
	case 'm':
		d = time.Minute
	case 'h':
		d = time.Hour
	case 'd':
		d = 24 * time.Hour
	default:
		return Rate{}, fmt.Errorf("%q is not a rate: the period must be sec, min, hour or day", s)
	}
	return Rate{Count: n, Period: d}, nil
}

// ParseSize reads a byte count: "5242880", "5MB", "512KB", "1GB" (or KiB/MiB/GiB).
func ParseSize(s string) (Size, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size: write a number of bytes or use KB, MB or GB", s)
	}
	return Size(n * mult), nil
}

// ParseDuration reads a duration as Django settings write them, a number of
// seconds ("259200"), or as Go does ("72h", "1h30m"), or in days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.ParseInt(t, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	if days, ok := strings.CutSuffix(t, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil && n >= 0 {
			return time.Duration(n * float64(24*time.Hour)), nil
		}
	}
	d, err := time.ParseDuration(t)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration: write seconds (259200), a Go duration (72h) or days (3d)", s)
	}
	return d, nil
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	sizeType     = reflect.TypeFor[Size]()
	rateType     = reflect.TypeFor[Rate]()
)

// assign converts a raw value (from TOML, .env or the environment) into the
// field's type. Strings from the environment are parsed; TOML values keep their
// type where it fits.
func assign(field reflect.Value, raw any) error {
	str := func() string {
		switch v := raw.(type) {
		case string:
			return v
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			return strings.Join(parts, ",")
		default:
			return fmt.Sprint(v)
		}
	}
	switch field.Type() {
	case durationType:
		d, err := ParseDuration(str())
		if err != nil {
			return err
		}
		field.SetInt(int64(d))
		return nil
	case sizeType:
		n, err := ParseSize(str())
		if err != nil {
			return err
		}
		field.SetInt(int64(n))
		return nil
	case rateType:
		r, err := ParseRate(str())
		if err != nil {
			return err
		}
		field.Set(reflect.ValueOf(r))
		return nil
	}
	switch field.Kind() {
	case reflect.String:
		field.SetString(str())
	case reflect.Bool:
		if b, ok := raw.(bool); ok {
			field.SetBool(b)
			return nil
		}
		b, err := parseBool(str())
		if err != nil {
			return err
		}
		field.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(strings.TrimSpace(str()), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", str())
		}
		field.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(str()), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", str())
		}
		field.SetFloat(f)
	case reflect.Slice:
		if field.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported setting type %s", field.Type())
		}
		var items []string
		if list, ok := raw.([]any); ok {
			for _, p := range list {
				items = append(items, fmt.Sprint(p))
			}
		} else {
			for _, p := range strings.Split(str(), ",") {
				if p = strings.TrimSpace(p); p != "" {
					items = append(items, p)
				}
			}
		}
		field.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported setting type %s", field.Type())
	}
	return nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on", "t", "y":
		return true, nil
	case "0", "false", "no", "off", "f", "n", "":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean: use true or false", s)
}

// fields walks the tagged fields of the struct that ptr points to.
func fields(ptr any, fn func(name string, secret string, v reflect.Value)) {
	v := reflect.ValueOf(ptr).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("setting")
		if name == "" || !f.IsExported() {
			continue
		}
		fn(name, f.Tag.Get("secret"), v.Field(i))
	}
}

// display renders a field's value for `go run . settings`.
func display(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case time.Duration:
		return x.String()
	case Size:
		return strconv.FormatInt(int64(x), 10)
	case Rate:
		return strconv.Quote(x.String())
	case string:
		return strconv.Quote(x)
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprint(v.Interface())
}
