package metasim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dripcast/dripcast/whatsapp"
)

var namedRE = regexp.MustCompile(`\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}`)

// namedParams are, for a template of named parameters (its Components' texts hold {{name}}
// placeholders), each component's names ("header", "body"); nil for a positional template.
func (t *Template) namedParams() map[string][]string {
	var out map[string][]string
	for _, c := range t.Components {
		kind := strings.ToLower(c.Type)
		for _, m := range namedRE.FindAllStringSubmatch(c.Text, -1) {
			if out == nil {
				out = map[string][]string{}
			}
			if !slices.Contains(out[kind], m[1]) {
				out[kind] = append(out[kind], m[1])
			}
		}
	}
	return out
}

// checkNamed checks, as Meta does for a template of named parameters, that each header and body
// parameter names one of the component's placeholders, and that every one is filled.
func checkNamed(t *Template, req sendRequest) *metaError {
	want := t.namedParams()
	if want == nil {
		return nil
	}
	for _, c := range req.Template.Components {
		if c.Type != "header" && c.Type != "body" {
			continue
		}
		var got []string
		for _, raw := range c.Parameters {
			var p struct {
				Name string `json:"parameter_name"`
			}
			_ = json.Unmarshal(raw, &p)
			if !slices.Contains(want[c.Type], p.Name) || slices.Contains(got, p.Name) {
				return &metaError{http.StatusBadRequest, codeParamCount, fmt.Sprintf("(#132000) Number of parameters does not match the expected number of params: %s has no parameter named %q", c.Type, p.Name)}
			}
			got = append(got, p.Name)
		}
		if len(got) != len(want[c.Type]) {
			return &metaError{http.StatusBadRequest, codeParamCount, fmt.Sprintf("(#132000) Number of parameters does not match the expected number of params: %s wants %v", c.Type, want[c.Type])}
		}
	}
	return nil
}

// buttonSubTypes is the sub_type a send gives each kind of listed button (an authentication
// template's code button goes as a URL button); a phone button takes no component.
var buttonSubTypes = map[string]string{"URL": "url", "QUICK_REPLY": "quick_reply", "COPY_CODE": "copy_code", "FLOW": "flow",
	"OTP": "url", "CATALOG": "catalog", "MPM": "mpm"}

// checkButtons checks, as Meta does, that each button component names a button the template has,
// with that button's sub_type. Only a template configured with its Components knows its buttons
// (one with Params alone knows those that take a parameter).
func checkButtons(t *Template, req sendRequest) *metaError {
	if len(t.Components) == 0 {
		return nil
	}
	var buttons []whatsapp.TemplateButton
	for _, c := range t.Components {
		if strings.EqualFold(c.Type, "BUTTONS") {
			buttons = c.Buttons
		}
	}
	for _, c := range req.Template.Components {
		if c.Type != "button" {
			continue
		}
		i, err := strconv.Atoi(c.Index)
		if err != nil || i < 0 || i >= len(buttons) {
			return &metaError{http.StatusBadRequest, codeParamInvalid, fmt.Sprintf("(#131009) Parameter value is not valid: the template has no button at index %q", c.Index)}
		}
		if want := buttonSubTypes[strings.ToUpper(buttons[i].Type)]; want == "" || !strings.EqualFold(c.SubType, want) {
			return &metaError{http.StatusBadRequest, codeParamInvalid, fmt.Sprintf("(#131009) Parameter value is not valid: button %d is a %s button, not %s", i, buttons[i].Type, c.SubType)}
		}
	}
	return nil
}
