// Package rest serves a bun model as a JSON API, the way Django REST
// framework's ModelSerializer and ModelViewSet do: the fields, their types
// and their validation are read from the model (core/models), and a
// ModelViewSet declares only what differs (read-only or write-only fields,
// search, ordering, validation, admin options).
//
// Answers follow the API contract in Django REST framework's words: times in
// RFC 3339 UTC with microseconds, errors in the api.Error shape, pages of
// {count, next, previous, results}.
package rest

// TimeFormat is how the API writes instants: RFC 3339 in UTC with microseconds.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// Messages of the API, in Django REST framework's words.
const (
	MsgBlank              = "This field may not be blank."
	MsgNullCharacter      = "Null characters are not allowed."
	MsgDateFormat         = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
	MsgDateTimeFormat     = "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
	MsgNoSuchObject       = "Invalid pk \"%s\" - object does not exist."
	MsgInvalidUUID        = "Must be a valid UUID."
	MsgInvalidImage       = "Upload a valid image. The file you uploaded was either not an image or a corrupted image."
	MsgInvalidFileName    = "Invalid file name."
	MsgStorageUnavailable = "Media storage is unavailable. Try again later."
)
