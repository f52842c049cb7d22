package api

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

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

// TestMain runs the package's tests, then checks every status the real handlers answered during
// them against the document: an answer the document does not describe fails the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := checkSeenStatuses(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: OpenAPI document:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func checkSeenStatuses() error {
	doc, err := loadOpenAPI()
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	s := &Server{}
	for _, rt := range s.routes() {
		mux.HandleFunc(rt.method+" "+rt.path, func(http.ResponseWriter, *http.Request) {})
	}
	var missing []string
	for _, e := range seen.entries {
		req, _ := http.NewRequest(e.method, e.path, nil)
		_, pattern := mux.Handler(req)
		if pattern == "" {
			continue // unmatched routes answer 404/405 and are not operations
		}
		method, path, _ := strings.Cut(pattern, " ")
		if _, ok := doc.responses(method, path)[strconv.Itoa(e.status)]; !ok {
			missing = append(missing, fmt.Sprintf("%s answered %d", pattern, e.status))
		}
	}
	slices.Sort(missing)
	if missing = slices.Compact(missing); len(missing) > 0 {
		return fmt.Errorf("undocumented answers: %v", missing)
	}
	return nil
}
