// Package openapitest checks OpenAPI documents in tests: Validate says
// whether a document is valid OpenAPI 3.1 (the specification's JSON Schema,
// then every $ref resolved), with github.com/pb33f/libopenapi and
// libopenapi-validator. It is a package of its own so that the binary does
// not link the validator.
package openapitest

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi/datamodel"
)

// Validate checks that doc is an OpenAPI 3.1 document valid against the
// specification's schema, whose references all resolve and whose
// operationIds are unique. The error lists every problem found.
func Validate(doc []byte) error {
	var head struct {
		OpenAPI string `json:"openapi"`
	}
	if err := json.Unmarshal(doc, &head); err != nil {
		return fmt.Errorf("openapitest: not JSON: %w", err)
	}
	if !strings.HasPrefix(head.OpenAPI, "3.1.") {
		return fmt.Errorf("openapitest: openapi is %q, not 3.1.x", head.OpenAPI)
	}
	// Problems are returned, not logged (libopenapi logs to stdout by default).
	d, err := libopenapi.NewDocumentWithConfiguration(doc, &datamodel.DocumentConfiguration{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("openapitest: parse: %w", err)
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		return fmt.Errorf("openapitest: %w", errors.Join(errs...))
	}
	var problems []error
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			msg := e.Message
			for _, se := range e.SchemaValidationErrors {
				msg += fmt.Sprintf("\n  %s (%s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
			}
			problems = append(problems, errors.New(msg))
		}
		if len(verrs) == 0 {
			problems = append(problems, errors.New("the document does not validate against the OpenAPI 3.1 schema"))
		}
	}
	model, err := d.BuildV3Model()
	if err != nil {
		problems = append(problems, fmt.Errorf("build the model: %w", err))
	}
	if model != nil {
		ids := map[string]string{}
		for path, item := range model.Model.Paths.PathItems.FromOldest() {
			for method, op := range item.GetOperations().FromOldest() {
				if op.OperationId == "" {
					continue
				}
				if prev, dup := ids[op.OperationId]; dup {
					problems = append(problems, fmt.Errorf("operationId %q is used by %s and %s %s", op.OperationId, prev, method, path))
				}
				ids[op.OperationId] = method + " " + path
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("openapitest: the document is not valid OpenAPI 3.1:\n%w", errors.Join(problems...))
	}
	return nil
}
