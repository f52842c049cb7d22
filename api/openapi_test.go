package api

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"gopkg.in/yaml.v3"
)

// openAPIDoc holds the paths of the document; each path maps methods (and "parameters") to
// their definitions.
type openAPIDoc struct {
	Paths map[string]map[string]any `yaml:"paths"`
}

// responses lists the statuses an operation documents.
func (d openAPIDoc) responses(method, path string) map[string]any {
	op, _ := d.Paths[path][strings.ToLower(method)].(map[string]any)
	r, _ := op["responses"].(map[string]any)
	return r
}

func loadOpenAPI() (openAPIDoc, error) {
	var doc openAPIDoc
	err := yaml.Unmarshal(OpenAPI, &doc)
	return doc, err
}

// The document and the router list the same operations.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	t.Parallel()
	doc, err := loadOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var documented, served []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented = append(documented, fmt.Sprintf("%s %s", method, path))
			}
		}
	}
	s := &Server{}
	for _, rt := range s.routes() {
		served = append(served, fmt.Sprintf("%s %s", strings.ToLower(rt.method), rt.path))
	}
	slices.Sort(documented)
	slices.Sort(served)
	if !slices.Equal(documented, served) {
		t.Fatalf("OpenAPI operations and routes differ\ndocumented %v\nserved     %v", documented, served)
	}
}

// openAPI is the document as kin-openapi loads it, routed without its servers so requests to a
// test server match.
var openAPI = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil
	return legacy.NewRouter(doc)
})

// checkResponse validates an answer of the real handlers against the document: its status must
// be one the operation lists, and its body must match that response's schema. Requests to no
// operation (404s and 405s of unknown routes) are not checked.
func checkResponse(req *http.Request, res *http.Response, body []byte) error {
	router, err := openAPI()
	if err != nil {
		return err
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return nil
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	return openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	})
}
