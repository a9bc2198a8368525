package rest_test

import "regexp"

var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

func oasPath(p string) string { return fiberParam.ReplaceAllString(p, "{$1}") }
