package api

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the API's OpenAPI 3 document; a test checks it against the routes.
//
//go:embed openapi.yaml
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, err := w.Write(OpenAPI)
	return err
}
